// op family 'elementwise': definitions being written
export {};
