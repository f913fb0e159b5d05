// op family 'matmul': definitions being written
export {};
