/** Importing this module registers every op definition. One file per op family. */
import './activation.js';
import './elementwise.js';
import './matmul.js';
import './conv.js';
import './pool.js';
import './norm.js';
import './softmax.js';
import './nn-misc.js';
import './shape.js';
import './generate.js';
import './sequence.js';
import './reduce.js';
import './gather.js';
import './resize.js';
import './select.js';
import './quant.js';
import './rnn.js';
