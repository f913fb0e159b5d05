export * from './dims.js';
export * from './graph.js';
export * from './infer.js';
export * from './registry.js';
export * from './topo.js';
