export * from './dtype.js';
export * from './fp16.js';
export * from './quant.js';
export * from './shape.js';
export * from './tensor.js';
export * from './sequence.js';
