import type { LegacyRule } from './index.js';

/** Old-opset forms of the elementwise op family, rewritten into the current form. */
export const LEGACY_ELEMENTWISE: LegacyRule[] = [];
