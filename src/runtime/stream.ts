import { InputError } from '../errors.js';
import { allocData } from '../tensor/dtype.js';
import { Tensor } from '../tensor/tensor.js';
import type { InferenceSession } from './session.js';

export interface StatefulStreamOptions {
  /**
   * Which output feeds which input on the next chunk: `{ stateN: 'state' }` (silero VAD v5/v6),
   * `{ hn: 'h', cn: 'c' }` (silero VAD legacy).
   */
  carry: Record<string, string>;
  /** inputs that stay the same for every chunk, e.g. `{ sr: new Tensor('int64', [16000n], []) }` */
  constants?: Record<string, Tensor>;
  /**
   * The state before the first chunk. Default: zeros of each carried input's declared shape, with every
   * symbolic dim (batch) taken as 1.
   */
  initial?: Record<string, Tensor>;
}

/**
 * Runs a recurrent model chunk by chunk, carrying its state outputs into its state inputs — what a user of a
 * streaming model (voice-activity detection, keyword spotting, streaming ASR) writes by hand:
 *
 * ```ts
 * const vad = await InferenceSession.create('silero_vad_v5.onnx');
 * const stream = new StatefulStream(vad, { carry: { stateN: 'state' }, constants: { sr: new Tensor('int64', [16000n], []) } });
 * for (const chunk of chunks) {               // Float32Array(512) at 16 kHz
 *   const { output } = await stream.push({ input: new Tensor('float32', chunk, [1, 512]) });
 *   console.log(output.data[0]);              // speech probability of this chunk
 * }
 * stream.reset();                             // next utterance starts from the initial state again
 * ```
 */
export class StatefulStream {
  private state: Record<string, Tensor>;

  constructor(
    readonly session: InferenceSession,
    private readonly opts: StatefulStreamOptions,
  ) {
    const inputs = new Set(session.inputNames);
    for (const [out, inp] of Object.entries(opts.carry)) {
      if (!session.outputNames.includes(out)) throw new InputError(`StatefulStream: '${out}' is not an output of the model (outputs: ${session.outputNames.join(', ')})`);
      if (!inputs.has(inp)) throw new InputError(`StatefulStream: '${inp}' is not an input of the model (inputs: ${session.inputNames.join(', ')})`);
    }
    for (const k of Object.keys(opts.constants ?? {})) if (!inputs.has(k)) throw new InputError(`StatefulStream: constant '${k}' is not an input of the model`);
    this.state = this.initialState();
  }

  private initialState(): Record<string, Tensor> {
    const st: Record<string, Tensor> = {};
    for (const inp of Object.values(this.opts.carry)) {
      const given = this.opts.initial?.[inp];
      if (given) {
        st[inp] = given;
        continue;
      }
      const meta = this.session.inputMetadata.find((m) => m.name === inp)!;
      const dims = meta.shape.map((d) => (typeof d === 'number' ? d : 1));
      st[inp] = new Tensor(meta.type, allocData(meta.type, dims.reduce((a, b) => a * b, 1)) as never, dims);
    }
    return st;
  }

  /** The state the next chunk will see (input name → tensor). */
  get current(): Readonly<Record<string, Tensor>> {
    return this.state;
  }

  /** Run one chunk: `feeds` are the per-chunk inputs; returns every output (state outputs included). */
  async push(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    return this.pushSync(feeds);
  }

  /** `push` without the promise (the session runs synchronously). */
  pushSync(feeds: Record<string, Tensor>): Record<string, Tensor> {
    for (const k of Object.keys(feeds)) if (k in this.state) throw new InputError(`StatefulStream: '${k}' is carried state; do not feed it (use reset or options.initial)`);
    const out = this.session.runSync({ ...this.opts.constants, ...this.state, ...feeds });
    const next: Record<string, Tensor> = {};
    for (const [o, i] of Object.entries(this.opts.carry)) next[i] = out[o]!;
    this.state = next;
    return out;
  }

  /** Start over from the initial state. */
  reset(): void {
    this.state = this.initialState();
  }
}
