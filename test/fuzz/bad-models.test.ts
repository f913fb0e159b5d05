// Untrusted input: model files come from strangers. Whatever the bytes, edgeq must answer with a typed
// EdgeqError (or a correct run) — never another exception type, a hang, or an allocation sized by
// unvalidated numbers. fast-check mutates real models; crafted cases cover the list one by one.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EdgeqError, InputError, ModelFormatError, ShapeError } from '../../src/errors.js';
import { onnxRoot } from '../helpers/onnx-reflect.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { dataPath, hasData } from '../helpers/data.js';

const ModelProto = onnxRoot().lookupType('onnx.ModelProto');
const FLOAT = 1;

/** Load + run with feeds built from the session's own metadata; only EdgeqError may escape. */
async function loadAndRun(bytes: Uint8Array): Promise<'ran' | EdgeqError> {
  try {
    const s = await InferenceSession.create(bytes);
    const feeds: Record<string, Tensor> = {};
    for (const m of s.inputMetadata) {
      const dims = (m.shape ?? []).map((d) => (typeof d === 'number' ? d : 1));
      const n = dims.reduce((a, b) => a * b, 1);
      if (n > 1 << 20 || m.type !== 'float32') return 'ran'; // feeds we won't build: load-time checks were the point
      feeds[m.name] = new Tensor('float32', new Float32Array(n).fill(0.5), dims);
    }
    await s.run(feeds);
    return 'ran';
  } catch (e) {
    if (e instanceof EdgeqError) return e;
    throw new Error(`non-EdgeqError escaped: ${(e as Error)?.name}: ${(e as Error)?.message}\n${(e as Error)?.stack}`);
  }
}

function seedModels(): { name: string; bytes: Uint8Array }[] {
  const out: { name: string; bytes: Uint8Array }[] = [];
  if (hasData('mnist/lenet.onnx')) out.push({ name: 'lenet', bytes: new Uint8Array(readFileSync(dataPath('mnist/lenet.onnx'))) });
  if (hasData('onnx-conformance/pytorch-converted')) {
    const dir = dataPath('onnx-conformance/pytorch-converted');
    for (const d of readdirSync(dir).sort().slice(0, 12)) out.push({ name: d, bytes: new Uint8Array(readFileSync(join(dir, d, 'model.onnx'))) });
  }
  out.push({ name: 'crafted-relu', bytes: model({}) });
  return out;
}

/** A tiny valid model (X → Relu → Y) whose parts a test can override. */
function model(o: { dims?: number[]; nodes?: object[]; initializer?: object[]; inputs?: object[] }): Uint8Array {
  const vi = (name: string, dims: (number | string)[]) => ({
    name,
    type: { tensor_type: { elem_type: FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) } } },
  });
  const msg = ModelProto.fromObject({
    ir_version: 8,
    opset_import: [{ domain: '', version: 13 }],
    graph: {
      name: 'g',
      node: o.nodes ?? [{ name: 'relu', op_type: 'Relu', input: ['X'], output: ['Y'] }],
      initializer: o.initializer ?? [],
      input: o.inputs ?? [vi('X', o.dims ?? [2, 3])],
      output: [vi('Y', o.dims ?? [2, 3])],
    },
  });
  return ModelProto.encode(msg).finish();
}

describe('bad models', () => {
  const seeds = seedModels();

  it('mutated bytes of real models → EdgeqError or a run, each case < 1 s', async () => {
    let maxMs = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: seeds.length - 1 }),
        fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        async (which, edits) => {
          const bytes = seeds[which]!.bytes.slice();
          for (const [pos, v] of edits) bytes[Math.floor(pos * (bytes.length - 1))] = v;
          const t0 = performance.now();
          await loadAndRun(bytes);
          const ms = performance.now() - t0;
          maxMs = Math.max(maxMs, ms);
          expect(ms).toBeLessThan(1000);
        },
      ),
      { numRuns: 300, seed: 42 },
    );
    expect(maxMs).toBeLessThan(1000);
  });

  it('truncated files and random bytes → ModelFormatError (or EdgeqError), never a crash', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: seeds.length - 1 }), fc.double({ min: 0, max: 1, noNaN: true }), async (which, frac) => {
        const b = seeds[which]!.bytes;
        const r = await loadAndRun(b.subarray(0, Math.floor(frac * (b.length - 1))));
        expect(r === 'ran' || r instanceof EdgeqError).toBe(true);
      }),
      { numRuns: 100, seed: 7 },
    );
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 0, maxLength: 4096 }), async (b) => {
        const r = await loadAndRun(b);
        expect(r === 'ran' || r instanceof EdgeqError).toBe(true);
      }),
      { numRuns: 200, seed: 9 },
    );
  });

  it('raw_data length disagreeing with dims → ModelFormatError naming the tensor', async () => {
    const bytes = model({
      nodes: [{ name: 'add', op_type: 'Add', input: ['X', 'W'], output: ['Y'] }],
      initializer: [{ name: 'W', data_type: FLOAT, dims: [2, 3], raw_data: new Uint8Array(20) }],
    });
    const e = await loadAndRun(bytes);
    expect(e).toBeInstanceOf(ModelFormatError);
    expect((e as Error).message).toContain("'W'");
  });

  it('negative dims and dims multiplying past 2^31 → EdgeqError, no allocation', async () => {
    for (const dims of [[-1, 3], [65536, 65536, 2]]) {
      const bytes = model({
        nodes: [{ name: 'add', op_type: 'Add', input: ['X', 'W'], output: ['Y'] }],
        initializer: [{ name: 'W', data_type: FLOAT, dims, raw_data: new Uint8Array(24) }],
      });
      const e = await loadAndRun(bytes);
      expect(e).toBeInstanceOf(EdgeqError);
      expect((e as Error).message).toContain("'W'");
    }
    const huge = await loadAndRun(model({ dims: [1 << 20, 1 << 20] }));
    expect(huge === 'ran' || huge instanceof EdgeqError).toBe(true);
  });

  it('a cycle and a dangling node input → ModelFormatError naming the node', async () => {
    const cyc = await loadAndRun(
      model({
        nodes: [
          { name: 'a', op_type: 'Add', input: ['X', 'T2'], output: ['T1'] },
          { name: 'b', op_type: 'Relu', input: ['T1'], output: ['T2'] },
          { name: 'c', op_type: 'Relu', input: ['T2'], output: ['Y'] },
        ],
      }),
    );
    expect(cyc).toBeInstanceOf(ModelFormatError);
    expect((cyc as Error).message).toMatch(/cycle/);
    const dangling = await loadAndRun(model({ nodes: [{ name: 'r', op_type: 'Relu', input: ['nobody'], output: ['Y'] }] }));
    expect(dangling).toBeInstanceOf(ModelFormatError);
    expect((dangling as Error).message).toContain('nobody');
  });

  it('missing, wrongly-typed, wrongly-shaped and unknown feeds → InputError naming the tensor', async () => {
    const s = await InferenceSession.create(model({ dims: ['N', 3] }));
    const ok = new Tensor('float32', new Float32Array(6), [2, 3]);
    await expect(s.run({})).rejects.toThrow(InputError);
    await expect(s.run({})).rejects.toThrow(/'X'/);
    await expect(s.run({ X: new Tensor('int32', new Int32Array(6), [2, 3]) })).rejects.toThrow(/'X' has type int32, expected float32/);
    await expect(s.run({ X: new Tensor('float32', new Float32Array(8), [2, 4]) })).rejects.toThrow(InputError);
    await expect(s.run({ X: ok, Z: ok })).rejects.toThrow(/unknown input 'Z'/);
    const out = await s.run({ X: ok });
    expect(out.Y!.dims).toEqual([2, 3]);
  });

  it('unknown ops → UnsupportedOpError naming op, domain and node', async () => {
    const e = await loadAndRun(model({ nodes: [{ name: 'mystery', op_type: 'FooBar', input: ['X'], output: ['Y'] }] }));
    expect((e as Error).name).toBe('UnsupportedOpError');
    expect((e as Error).message).toMatch(/FooBar.*ai\.onnx opset 13.*mystery/);
    // a domain the model never imports is a malformed file, named as such
    const d = await loadAndRun(model({ nodes: [{ name: 'alien', op_type: 'Foo', domain: 'com.example', input: ['X'], output: ['Y'] }] }));
    expect(d).toBeInstanceOf(ModelFormatError);
    expect((d as Error).message).toMatch(/alien.*com\.example/);
  });

  it('shape errors name the node', async () => {
    const e = await loadAndRun(
      model({
        nodes: [{ name: 'bad_add', op_type: 'Add', input: ['X', 'W'], output: ['Y'] }],
        initializer: [{ name: 'W', data_type: FLOAT, dims: [4], float_data: [1, 2, 3, 4] }],
      }),
    );
    expect(e).toBeInstanceOf(ShapeError);
    expect((e as Error).message).toContain('bad_add');
  });

  it('external data and sparse initializers → UnsupportedError naming what; a malformed If → ShapeError', async () => {
    const ext = await loadAndRun(
      model({
        nodes: [{ name: 'add', op_type: 'Add', input: ['X', 'W'], output: ['Y'] }],
        initializer: [{ name: 'W', data_type: FLOAT, dims: [2, 3], data_location: 1, external_data: [{ key: 'location', value: 'w.bin' }] }],
      }),
    );
    expect((ext as Error).name).toBe('UnsupportedError');
    expect((ext as Error).message).toMatch(/W.*external data/);
    const msg = ModelProto.decode(model({})) as unknown as { graph: { sparse_initializer: object[] } };
    msg.graph.sparse_initializer = [{ values: { name: 'S', data_type: FLOAT, dims: [1], float_data: [1] }, indices: { data_type: 7, dims: [1], int64_data: [0] }, dims: [4] }];
    const sparse = await loadAndRun(ModelProto.encode(ModelProto.fromObject(msg)).finish());
    expect((sparse as Error).name).toBe('UnsupportedError');
    expect((sparse as Error).message).toMatch(/sparse initializers.*'S'/);
    const body = { name: 'body', node: [], output: [{ name: 'X' }] };
    const iff = await loadAndRun(
      model({ nodes: [{ name: 'branch', op_type: 'If', input: ['X'], output: ['Y'], attribute: [{ name: 'then_branch', type: 5, g: body }, { name: 'else_branch', type: 5, g: body }] }] }),
    );
    // control flow is supported: this If's cond is the float input X, which the shape rule refuses
    expect((iff as Error).name).toBe('ShapeError');
    expect((iff as Error).message).toMatch(/'branch'.*cond/);
  });
});
