// op family 'generate': definitions being written
export {};
