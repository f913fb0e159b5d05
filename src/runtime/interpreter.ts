import { InputError } from '../errors.js';
import type { Dim, Graph } from '../ir/graph.js';
import { setActiveThreads } from '../kernels/threads.js';
import type { DType, TypedArray } from '../tensor/dtype.js';
import type { QuantParams } from '../tensor/quant.js';
import { Tensor } from '../tensor/tensor.js';
import { InferenceSession, type SessionOptions } from './session.js';
import type { StaticPlan } from './static-plan.js';

export interface TensorDetails {
  name: string;
  /** index into the interpreter's tensor table (inputs first, then outputs) */
  index: number;
  shape: Dim[];
  dtype: DType;
  /** (scale, zero_point) like tf.lite.Interpreter; [0, 0] when not quantized */
  quantization: [number, number];
  quantizationParameters: { scales: Float32Array; zeroPoints: Int32Array; quantizedDimension: number };
}

/**
 * A thin facade shaped like TFLite's Python `tf.lite.Interpreter` over an InferenceSession:
 * `allocateTensors()`, `getInputDetails()` / `getOutputDetails()`, `setTensor(index, data)`, `invoke()`,
 * `getTensor(index)`. Works for .tflite and .onnx models alike.
 *
 * In place, like TFLite's C++ `typed_input_tensor<T>(i)` / `typed_output_tensor<T>(i)` (tfjs-tflite's
 * `getInputs()[i].data()`): after `allocateTensors()`, `typedInputTensor(i)` is a typed array the next `invoke()`
 * reads and `typedOutputTensor(i)` one it writes. When every shape of the graph is static and every step binds (a
 * static plan, runtime/static-plan.ts), they are views of the plan's blocks in kernel memory and `invoke()` is the
 * plan's WASM calls alone: no copy, no allocation, no Tensor. Otherwise (symbolic dims, steps without `bind`,
 * `profile: true`) they are JS arrays the interpreter owns and `invoke()` copies them in and out of a run (the same
 * API; `inPlace` tells which).
 *
 * The rule for views (TFLite's for its tensor pointers): a view stays valid until the kernel memory grows, which
 * only calls that allocate kernel memory do (creating a session or interpreter, a run that is not in place, a plan;
 * invoke() only when a conv's or pool's per-call scratch no longer finds its free block, i.e. after other sessions
 * allocated); a view held across such a call may be detached (length 0), so ask `typedInputTensor(i)` again after
 * it. Each call hands out a view of the current memory. Inputs keep what was written from one `invoke()` to the next; outputs
 * hold the last invoke's results until the next one overwrites them. `setTensor` / `getTensor` copy, as in TFLite.
 */
export class Interpreter {
  private readonly inputs: TensorDetails[];
  private readonly outputs: TensorDetails[];
  private readonly values = new Map<number, Tensor>();
  private allocated = false;
  /** in place: the interpreter's own static plan (its own blocks, apart from the session's runSync plan) */
  private plan?: StaticPlan;

  private constructor(
    readonly session: InferenceSession,
    /** whether release() releases the session (Interpreter.create made it) */
    private readonly owned: boolean,
    private readonly profiled: boolean,
  ) {
    const g: Graph = session.graph;
    const details = (io: { name: string; type: { dtype: DType; shape?: Dim[]; quant?: QuantParams } }, index: number): TensorDetails => {
      const q = io.type.quant;
      return {
        name: io.name,
        index,
        shape: [...(io.type.shape ?? [])],
        dtype: io.type.dtype,
        quantization: q && q.scale.length === 1 ? [q.scale[0]!, q.zeroPoint[0]!] : [0, 0],
        quantizationParameters: { scales: q?.scale ?? new Float32Array(0), zeroPoints: q?.zeroPoint ?? new Int32Array(0), quantizedDimension: q?.axis ?? 0 },
      };
    };
    this.inputs = g.inputs.map((i, k) => details(i, k));
    this.outputs = g.outputs.map((o, k) => details(o, g.inputs.length + k));
  }

  /** Load a model (path/URL, bytes or Graph). */
  static async create(model: string | Uint8Array | ArrayBuffer | Graph, options: SessionOptions = {}): Promise<Interpreter> {
    return new Interpreter(await InferenceSession.create(model, options), true, !!options.profile);
  }

  /**
   * An interpreter over a session that is already open (its invoke() is not profiled); the session's own runs are not
   * disturbed by it (the interpreter runs in place on a plan of its own), and `release()` leaves the session open.
   */
  static fromSession(session: InferenceSession): Interpreter {
    return new Interpreter(session, false, false);
  }

  /**
   * Allocate the input and output tensors, inputs zeroed (shapes must be concrete): in place on a static plan of the
   * interpreter's own when the graph has one, else in JS memory. Called again, it keeps what it allocated.
   */
  allocateTensors(): void {
    if (this.allocated) return;
    for (const d of this.inputs) {
      if (d.shape.some((x) => typeof x !== 'number')) throw new InputError(`input '${d.name}' has symbolic shape [${d.shape}]; set it with setTensor`);
    }
    const plan = this.profiled ? undefined : this.session.executor.newStaticPlan();
    if (plan) {
      this.plan = plan;
      this.inputs.forEach((_, i) => plan.inputView(i).fill(0 as never));
      this.values.clear();
      // one run on the zeros: kernels that take scratch per call (convs, pools) find it free from then on, so later
      // invokes do not grow the memory (unless other sessions took those blocks meanwhile)
      this.plan.invoke();
    } else {
      for (const d of this.inputs) this.values.set(d.index, Tensor.zeros(d.dtype, d.shape as number[]));
      // outputs of static shape: preallocated, so typedOutputTensor(i) is one array the runs write into
      for (const d of this.outputs) {
        const t = this.session.executor.analysis.types.get(d.name);
        if (t?.shape && t.shape.every((x) => typeof x === 'number') && t.dtype !== 'string' && !t.sequence) this.values.set(d.index, Tensor.zeros(t.dtype, t.shape as number[]));
      }
    }
    this.allocated = true;
  }

  /** Whether allocateTensors() placed the tensors in kernel memory (invoke() then copies nothing). */
  get inPlace(): boolean {
    return this.plan !== undefined;
  }

  getInputDetails(): TensorDetails[] {
    return this.inputs.map((d) => ({ ...d, shape: [...d.shape] }));
  }

  getOutputDetails(): TensorDetails[] {
    return this.outputs.map((d) => ({ ...d, shape: [...d.shape] }));
  }

  /**
   * Input `i` (its position among the inputs) as a typed array that the next invoke() reads: write the input into it
   * (see the class comment for how long a view stays valid). Needs allocateTensors().
   */
  typedInputTensor(i: number): TypedArray {
    const d = this.inputs[i];
    if (!d) throw new InputError(`input ${i} does not exist (the model has ${this.inputs.length})`);
    if (this.plan) return this.plan.inputView(i);
    if (!this.allocated) throw new InputError('call allocateTensors() before typedInputTensor()');
    return this.values.get(d.index)!.data as TypedArray;
  }

  /** Output `i` (its position among the outputs) as a typed array that invoke() writes (the rule of typedInputTensor). */
  typedOutputTensor(i: number): TypedArray {
    const d = this.outputs[i];
    if (!d) throw new InputError(`output ${i} does not exist (the model has ${this.outputs.length})`);
    if (this.plan) return this.plan.outputView(d.name);
    const t = this.values.get(d.index);
    if (!t) throw new InputError(`output '${d.name}' has no tensor yet (allocateTensors(); with a symbolic shape, after invoke())`);
    return t.data as TypedArray;
  }

  /** Set input `index` from a Tensor or a typed array / number[] of the input's dtype and shape (copied). */
  setTensor(index: number, data: Tensor | ArrayLike<number> | ArrayLike<bigint>): void {
    const k = this.inputs.findIndex((x) => x.index === index);
    const d = this.inputs[k];
    if (!d) throw new InputError(`tensor index ${index} is not an input (inputs: ${this.inputs.map((x) => x.index).join(', ')})`);
    if (this.plan) {
      const view = this.plan.inputView(k);
      const shape = d.shape as number[];
      if (data instanceof Tensor) {
        if (data.type !== d.dtype) throw new InputError(`input '${d.name}' expects ${d.dtype}, got ${data.type}`);
        if (data.dims.length !== shape.length || data.dims.some((x, j) => x !== shape[j])) throw new InputError(`input '${d.name}' has shape [${shape}], got [${data.dims}]`);
        view.set(data.data as never);
        return;
      }
      if (data.length !== view.length) throw new InputError(`input '${d.name}' has ${view.length} elements ([${shape}]), got ${data.length}`);
      if (typeof view[0] === 'bigint' ? typeof data[0] !== 'bigint' : typeof data[0] === 'bigint') throw new InputError(`input '${d.name}' expects ${d.dtype} values`);
      view.set(data as never);
      return;
    }
    let t: Tensor;
    if (data instanceof Tensor) t = data;
    else {
      if (d.shape.some((x) => typeof x !== 'number')) throw new InputError(`input '${d.name}' has a symbolic shape; pass a Tensor`);
      t = new Tensor(d.dtype, (ArrayBuffer.isView(data) ? data : Array.from(data as ArrayLike<number>)) as never, d.shape as number[]);
    }
    if (t.type !== d.dtype) throw new InputError(`input '${d.name}' expects ${d.dtype}, got ${t.type}`);
    // an allocated input keeps its array (typedInputTensor's view) when the new value fits it
    const held = this.values.get(index);
    if (this.allocated && held && held.size === t.size && held.dims.every((x, j) => x === t.dims[j]) && held.dims.length === t.dims.length) (held.data as TypedArray).set(t.data as never);
    else this.values.set(index, t);
  }

  /** Run the model on the inputs set so far (in place: the static plan's calls only). */
  invoke(): void {
    const plan = this.plan;
    if (plan) {
      // one thread (the usual case for models this small): the active count is already 1 between runs
      const n = this.session.numThreads;
      if (n === 1) return plan.invoke();
      const prev = setActiveThreads(n, plan);
      try {
        plan.invoke();
      } finally {
        setActiveThreads(prev);
      }
      return;
    }
    if (!this.allocated && this.inputs.some((d) => !this.values.has(d.index))) throw new InputError('call allocateTensors() or set every input before invoke()');
    const feeds: Record<string, Tensor> = {};
    for (const d of this.inputs) {
      const t = this.values.get(d.index);
      if (!t) throw new InputError(`input '${d.name}' (index ${d.index}) was not set`);
      feeds[d.name] = t;
    }
    // preallocated outputs (typedOutputTensor's arrays) are written in place when the run's shapes match them
    const into: Record<string, Tensor | null> = {};
    for (const d of this.outputs) into[d.name] = (this.allocated && this.values.get(d.index)) || null;
    let out: Record<string, Tensor>;
    try {
      out = this.session.runSync(feeds, into);
    } catch (e) {
      if (!this.allocated || !(e instanceof InputError) || !Object.values(into).some((t) => t)) throw e;
      out = this.session.runSync(feeds); // an output's shape changed with the inputs' (symbolic dims): fresh tensors
    }
    for (const d of this.outputs) this.values.set(d.index, out[d.name]!);
  }

  /** A copy of the current value of an input or (after invoke) an output. */
  getTensor(index: number): Tensor {
    if (this.plan) {
      const k = this.inputs.findIndex((x) => x.index === index);
      const o = this.outputs.find((x) => x.index === index);
      if (k < 0 && !o) throw new InputError(`tensor ${index} is neither an input nor an output`);
      const d = k >= 0 ? this.inputs[k]! : o!;
      const t = new Tensor(d.dtype, (k >= 0 ? this.plan.inputView(k) : this.plan.outputView(o!.name)).slice(), this.session.executor.analysis.types.get(d.name)?.shape as number[]);
      const q = this.session.executor.analysis.types.get(d.name)?.quant;
      if (q) t.quant = q;
      return t;
    }
    const t = this.values.get(index);
    if (!t) throw new InputError(`tensor ${index} has no value yet (inputs are set with setTensor, outputs exist after invoke)`);
    return t;
  }

  /** Free the interpreter's plan, and the session when Interpreter.create made it. */
  async release(): Promise<void> {
    this.plan?.dispose();
    this.plan = undefined;
    this.allocated = false;
    if (this.owned) await this.session.release();
  }
}
