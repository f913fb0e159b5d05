/** Importing this module registers every WASM kernel with the kernel registry. */
import './sparse.js'; // first: sparse kernels take pruned weights before the dense ones see them
import './fp16.js'; // before gemm/conv: float16 weights (float16 nodes, or big float16 initializers behind a Cast) stay halves
import './gemm.js';
import './conv.js';
import './pool.js';
import './eltwise.js';
import './act.js';
import './norm.js';
import './layout.js';
import './view.js';
import './conv-transpose.js';
import './resize.js';
import './qlinear.js';
import './tflite-int8.js';
import './qlinear-ops.js';
import './permute.js'; // after layout.js: 8-bit Transpose, constant Pad, and Concat of 4-byte elements
export { collectDeclines, decline, kernelsFor, registerKernel } from './registry.js';
export type { KernelDef, PreparedKernel, Producer } from './registry.js';
import './nbits.js';
import './dynq.js';
import './contrib.js';
import './attention.js';
import './rnn.js';
import './tfl-lstm8.js'; // int8 UNIDIRECTIONAL_SEQUENCE_LSTM (rnn.js takes the float one)
import './reduce.js';
import './anytype.js';
import './kv-cache.js';
