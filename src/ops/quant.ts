// op family 'quant': definitions being written
export {};
