// op family 'reduce': definitions being written
export {};
