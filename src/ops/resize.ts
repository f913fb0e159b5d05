// op family 'resize': definitions being written
export {};
