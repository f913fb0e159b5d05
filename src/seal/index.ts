/**
 * Sealed models (issue 19; docs/sealed-format.md). The container and keys live in formats/ (the runtime opens
 * sealed files and may not import this layer); this layer adds sealing a split's parts with per-part keys.
 */
export { SEAL_MAGIC, SEAL_VERSION, isSealed, openSealed, readSealedHeader, sealModel, verifySealed, type OpenOptions, type SealHeader, type SealOptions, type SealedFormat, type SealedInfo, type VerifyOptions } from '../formats/sealed.js';
export {
  contentKeyBytes,
  contentKeyId,
  generateContentKey,
  generateSigningKeyPair,
  importContentKey,
  importSigningKey,
  importVerifyKey,
  type ContentKeyInput,
  type SigAlg,
  type SigningKeyInput,
  type VerifyKeyInput,
} from '../formats/sealed-keys.js';
export { writeSealedSplit, type SealSplitOptions } from './split.js';
