import type { LegacyRule } from './index.js';

/** Old-opset forms of the reduce op family, rewritten into the current form. */
export const LEGACY_REDUCE: LegacyRule[] = [];
