import type { LegacyRule } from './index.js';

/** Old-opset forms of the quant op family, rewritten into the current form. */
export const LEGACY_QUANT: LegacyRule[] = [];
