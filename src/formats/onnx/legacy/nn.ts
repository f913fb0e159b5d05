import type { LegacyRule } from './index.js';

/** Old-opset forms of the nn op family, rewritten into the current form. */
export const LEGACY_NN: LegacyRule[] = [];
