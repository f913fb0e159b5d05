/**
 * Typed errors. Every failure edgeq reports on bad models or bad inputs is one of these, so callers can
 * `instanceof EdgeqError` and never see a raw RangeError / WASM trap from untrusted data.
 * Messages name the node / tensor and say what was expected.
 */
export class EdgeqError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}
/** The model file is malformed: bad protobuf/flatbuffer, inconsistent lengths, dangling references. */
export class ModelFormatError extends EdgeqError {}
/** A feature of a valid model that edgeq does not implement (external data, control flow, ...). */
export class UnsupportedError extends EdgeqError {}
/** An operator edgeq has no definition for (op type, domain/opset or op code, node). */
export class UnsupportedOpError extends UnsupportedError {
  constructor(
    readonly op: string,
    readonly where: string,
    detail = '',
  ) {
    super(`unsupported operator ${op} (${where})${detail ? ': ' + detail : ''}`);
  }
}
/** Shapes or dtypes of a node's inputs violate the op's rules. */
export class ShapeError extends EdgeqError {}
/** A feed passed to `session.run` (or user data) is missing or has the wrong dtype/shape. */
export class InputError extends EdgeqError {}

/** Why a sealed model could not be opened (see docs/sealed-format.md). */
export type SealReason =
  | 'not-sealed'
  | 'truncated'
  | 'malformed'
  | 'unknown-version'
  | 'key-required'
  | 'bad-key'
  | 'wrong-key'
  | 'tampered'
  | 'signature-missing'
  | 'signature-invalid'
  | 'unsupported-algorithm';
/**
 * A sealed (encrypted / signed) model failed to open or to seal. `reason` is machine-readable. Messages never
 * contain key bytes, plaintext or decrypted bytes: only key ids, fingerprints, lengths and offsets.
 */
export class SealError extends EdgeqError {
  constructor(
    readonly reason: SealReason,
    message: string,
  ) {
    super(`${reason}: ${message}`);
  }
}

/** Throw `ShapeError` with `msg` unless `cond`. */
export function check(cond: unknown, msg: string | (() => string), Err: new (m: string) => EdgeqError = ShapeError): asserts cond {
  if (!cond) throw new Err(typeof msg === 'function' ? msg() : msg);
}
