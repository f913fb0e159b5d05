/** Importing this module registers every WASM kernel with the kernel registry. */
import './gemm.js';
import './conv.js';
export { kernelsFor, registerKernel } from './registry.js';
export type { KernelDef, PreparedKernel } from './registry.js';
