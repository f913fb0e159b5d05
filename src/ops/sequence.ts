// op family 'sequence': definitions being written
export {};
