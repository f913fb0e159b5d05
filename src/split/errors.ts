import { EdgeqError } from '../errors.js';

/** A split request that cannot be honoured: unknown tensor, a cut that does not separate, K too large, … */
export class SplitError extends EdgeqError {}
/** A pipeline stage failed (its part threw, or its worker died). `stage` is the 0-based part index. */
export class PipelineError extends EdgeqError {
  constructor(
    message: string,
    readonly stage: number,
  ) {
    super(message);
  }
}
/** A pipeline worker exited or crashed mid-stream. */
export class WorkerCrashError extends PipelineError {}
