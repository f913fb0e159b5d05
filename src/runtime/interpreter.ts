import { InputError } from '../errors.js';
import type { Dim, Graph } from '../ir/graph.js';
import type { DType } from '../tensor/dtype.js';
import type { QuantParams } from '../tensor/quant.js';
import { Tensor } from '../tensor/tensor.js';
import { InferenceSession, type SessionOptions } from './session.js';

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
 */
export class Interpreter {
  private readonly inputs: TensorDetails[];
  private readonly outputs: TensorDetails[];
  private readonly values = new Map<number, Tensor>();
  private allocated = false;

  private constructor(readonly session: InferenceSession) {
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
    return new Interpreter(await InferenceSession.create(model, options));
  }

  /** Allocate zeroed input tensors (shapes must be concrete). */
  allocateTensors(): void {
    for (const d of this.inputs) {
      if (d.shape.some((x) => typeof x !== 'number')) throw new InputError(`input '${d.name}' has symbolic shape [${d.shape}]; set it with setTensor`);
      this.values.set(d.index, Tensor.zeros(d.dtype, d.shape as number[]));
    }
    this.allocated = true;
  }

  getInputDetails(): TensorDetails[] {
    return this.inputs.map((d) => ({ ...d, shape: [...d.shape] }));
  }

  getOutputDetails(): TensorDetails[] {
    return this.outputs.map((d) => ({ ...d, shape: [...d.shape] }));
  }

  /** Set input `index` from a Tensor or a typed array / number[] of the input's dtype and shape. */
  setTensor(index: number, data: Tensor | ArrayLike<number> | ArrayLike<bigint>): void {
    const d = this.inputs.find((x) => x.index === index);
    if (!d) throw new InputError(`tensor index ${index} is not an input (inputs: ${this.inputs.map((x) => x.index).join(', ')})`);
    let t: Tensor;
    if (data instanceof Tensor) t = data;
    else {
      if (d.shape.some((x) => typeof x !== 'number')) throw new InputError(`input '${d.name}' has a symbolic shape; pass a Tensor`);
      t = new Tensor(d.dtype, (ArrayBuffer.isView(data) ? data : Array.from(data as ArrayLike<number>)) as never, d.shape as number[]);
    }
    if (t.type !== d.dtype) throw new InputError(`input '${d.name}' expects ${d.dtype}, got ${t.type}`);
    this.values.set(index, t);
  }

  /** Run the model on the inputs set so far. */
  invoke(): void {
    if (!this.allocated && this.inputs.some((d) => !this.values.has(d.index))) throw new InputError('call allocateTensors() or set every input before invoke()');
    const feeds: Record<string, Tensor> = {};
    for (const d of this.inputs) {
      const t = this.values.get(d.index);
      if (!t) throw new InputError(`input '${d.name}' (index ${d.index}) was not set`);
      feeds[d.name] = t;
    }
    const out = this.session.runSync(feeds);
    for (const d of this.outputs) this.values.set(d.index, out[d.name]!);
  }

  /** The current value of an input or (after invoke) an output. */
  getTensor(index: number): Tensor {
    const t = this.values.get(index);
    if (!t) throw new InputError(`tensor ${index} has no value yet (inputs are set with setTensor, outputs exist after invoke)`);
    return t;
  }
}
