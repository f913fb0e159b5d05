import type { LegacyRule } from './index.js';

/** Old-opset forms of the shape op family, rewritten into the current form. */
export const LEGACY_SHAPE: LegacyRule[] = [];
