/**
 * Run-time limits that keep a stranger's model from hanging its caller; `env.limits` (runtime/env.ts) reads and sets
 * them. They sit here, below the ops that enforce them.
 */
export const limits = {
  /**
   * Iterations one loop (ONNX Loop, TFLite WHILE) may run; past it the run fails with a ShapeError naming the node.
   * A loop whose condition never turns false — one byte of a model file is enough — would otherwise run until the
   * 2^31 iteration counter, hours. 1,000,000 is far above the loops real models run (NMS, generation up to a few
   * thousand steps, recurrences over a few thousand frames); an app that loops over audio samples can raise it, one
   * that loads models from strangers may lower it (each iteration of a small body costs ~5–50 µs).
   */
  loopIterations: 1_000_000,
};

/** Most iterations `limits.loopIterations` may be set to (the iteration counter's range). */
export const MAX_LOOP_ITERATIONS = 2 ** 31 - 1;
