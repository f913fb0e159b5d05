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
  /**
   * Multiply-adds (or comparable elementary steps: window reads, attention scores) one node may take, from its
   * shapes (OpDef.cost); past it the node fails with a ShapeError naming it, its op, its cost and this limit, before
   * any kernel runs — at load when its shapes are static, at run time when they depend on the inputs. A valid model
   * stays under the 2 GiB tensor limit with a Conv padded by 2^20, a 100k × 100k × 100k MatMul or attention over
   * 10^6 tokens, and would run for hours. 10^12 is ~70 s at 30 GFLOP/s and far above real nodes (the heaviest we run,
   * isnet_small at 1024², has 160 G in all, 19 G in its biggest node, a ConvInteger); a Loop body's nodes count per iteration.
   * Infinity turns the check off.
   */
  nodeWork: 1e12,
};

/** Most iterations `limits.loopIterations` may be set to (the iteration counter's range). */
export const MAX_LOOP_ITERATIONS = 2 ** 31 - 1;
