// op family 'pool': definitions being written
export {};
