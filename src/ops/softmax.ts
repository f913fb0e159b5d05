// op family 'softmax': definitions being written
export {};
