// op family 'nn-misc': definitions being written
export {};
