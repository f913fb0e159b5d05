// op family 'shape': definitions being written
export {};
