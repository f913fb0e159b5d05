// op family 'rnn': definitions being written
export {};
