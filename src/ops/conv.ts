// op family 'conv': definitions being written
export {};
