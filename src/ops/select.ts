// op family 'select': definitions being written
export {};
