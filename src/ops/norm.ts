// op family 'norm': definitions being written
export {};
