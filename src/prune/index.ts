export { prune, applyMasks, magnitudeMask, nmMask, normalizeOptions, selectWeights, zeroFraction } from './prune.js';
export type { LayerReport, PruneOptions, PruneResult, PruneScope, PruneStructure, SkippedLayer } from './prune.js';
export { filterNorms, sliceAxis } from './channel.js';
export { NothingToPruneError, PruneOptionsError, weightOf } from './weights.js';
export type { WeightRef } from './weights.js';
export { csrGemmNT, denseGemmNT, fromCsr, toCsr } from './csr.js';
export type { CsrMatrix } from './csr.js';
