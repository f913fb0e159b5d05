// op family 'gather': definitions being written
export {};
