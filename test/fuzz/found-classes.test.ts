// One regression test per class of failure the structure-aware fuzzer (scripts/fuzz-models.ts) found: each names the
// typed error the single validation point now gives, where before there was a hang, a trap or a corrupted allocator.
import { describe, expect, it } from 'vitest';
import { ModelFormatError, ShapeError } from '../../src/errors.js';
import { Arena, type KernelExports } from '../../src/kernels/wasm.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { graph, i64, run } from '../helpers/op-graph.js';
import { buildTflite } from '../helpers/tflite-builder.js';
import { InferenceSession } from '../../src/runtime/session.js';

const f32 = (dims: number[]) => new Tensor('float32', Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => (i % 7) / 7), dims);

describe('classes found by the structure-aware fuzzer', () => {
  it('Attention: nonpad_kv_seqlen outside [0, total length] → ShapeError naming it (was a 2^31-step loop)', async () => {
    const ins = (np: number[]) => [
      { name: 'Q', feed: f32([2, 3, 4, 8]) },
      { name: 'K', feed: f32([2, 3, 6, 8]) },
      { name: 'V', feed: f32([2, 3, 6, 10]) },
      '' as const,
      '' as const,
      '' as const,
      { name: 'L', feed: i64(np) },
    ];
    const [y] = await run('Attention', ins([6, 4]));
    expect(y!.dims).toEqual([2, 3, 4, 10]);
    for (const bad of [-(2 ** 31), -1, 7])
      await expect(run('Attention', ins([bad, 4]))).rejects.toThrow(new RegExp(`Attention.*nonpad_kv_seqlen\\[0\\] = ${bad} out of range \\[0, 6\\]`));
  });

  it('kernel arena: a request of 2 GB or more is refused with ShapeError and leaves the allocator sound', () => {
    // a memory that may not grow past 4 pages: the request must fail at the grow, not hand out a block
    const a = new Arena({ memory: new WebAssembly.Memory({ initial: 1, maximum: 4 }) } as unknown as KernelExports);
    const p1 = a.alloc(64, 'first');
    expect(() => a.alloc(2 ** 31, 'huge')).toThrow(ShapeError);
    expect(() => a.alloc(2 ** 31, 'huge')).toThrow(/huge: 2147483648 bytes: WASM memory cannot grow/);
    const p2 = a.alloc(64, 'second');
    expect(p2).toBeGreaterThan(p1); // before: the negative block size moved the heap top back over live blocks
    a.release(p1);
    expect(a.alloc(64, 'third')).toBe(p1);
    expect(a.inUse).toBe(2 * (64 + 16));
  });

  it('Conv/Pool geometry past int32 (kernel reach, padded input, stride) → ShapeError naming the node (was a WASM trap)', async () => {
    const x = { name: 'X', feed: f32([1, 1, 4, 4]) };
    await expect(run('AveragePool', [x], { kernel_shape: [2, 2 ** 31 - 1], auto_pad: 'SAME_UPPER' })).rejects.toThrow(/'n0' \(AveragePool\).*spatial axis 1: padded input .* must each be below 2\^31/);
    await expect(run('MaxPool', [x], { kernel_shape: [2, 2], pads: [0, 0, 2 ** 31 - 2, 0] })).rejects.toThrow(ShapeError);
    await expect(run('Conv', [x, { name: 'W', init: f32([1, 1, 1, 2]) }], { dilations: [1, 2 ** 31], auto_pad: 'SAME_UPPER' })).rejects.toThrow(/'n0' \(Conv\).*kernel reach 2147483649/);
  });

  it('LpPool: a kernel mostly in the padding costs only its taps inside the input (was a 2^20-step loop per output)', async () => {
    // stride K with pads K-1: window 0 covers x[..0], window 1 x[1..2], for any K ≥ 3 — the same output
    const x = { name: 'X', feed: new Tensor('float32', Float32Array.from([1, -2, 3, 4, 5, -6]), [1, 1, 2, 3]) };
    const lp = (K: number) => run('LpPool', [x], { kernel_shape: [1, K], strides: [1, K], pads: [0, K - 1, 0, K - 1], p: 2 });
    const [small] = await lp(4);
    const [huge] = await lp(2 ** 20);
    expect(huge!.dims).toEqual([1, 1, 2, 2]);
    expect(Array.from(huge!.data as Float32Array)).toEqual(Array.from(small!.data as Float32Array));
  });

  it('a shape / axes input declared with a huge length → ShapeError naming the node (was a 2^31-element array)', async () => {
    const big = (name: string, n: number) => ({ name, dtype: 'int64' as const, shape: [n] });
    const x = { name: 'X', feed: f32([2, 3]) };
    for (const [op, ins] of [
      ['Unsqueeze', [x, big('A', 2 ** 31 - 1)]],
      ['Reshape', [x, big('S', 2 ** 31 - 1)]],
      ['Expand', [x, big('S', 65)]],
      ['ConstantOfShape', [big('S', 2 ** 31 - 1)]],
    ] as const)
      await expect(InferenceSession.create(graph(op, [...ins]))).rejects.toThrow(new RegExp(`'n0' \\(${op}\\).*output rank \\d+ \\(at most 64\\)`));
    // a declared length within the bound still loads (its values arrive at run time)
    await expect(InferenceSession.create(graph('Reshape', [x, big('S', 2)]))).resolves.toBeDefined();
  });

  it('Slice / Expand / Tile / Pad with an empty output beside a dim of 2^31 - 1 → the empty tensor (was 2^31 index-map steps)', async () => {
    const big = 2 ** 31 - 1;
    const empty = (dims: number[]) => ({ name: 'X', feed: new Tensor('float32', new Float32Array(0), dims) });
    const cases: [string, Parameters<typeof run>[1], number[]][] = [
      ['Slice', [empty([0, big]), { name: 's', init: i64([0]) }, { name: 'e', init: i64([big]) }, { name: 'a', init: i64([1]) }], [0, big]],
      ['Expand', [empty([0, 1]), { name: 's', init: i64([0, big]) }], [0, big]],
      ['Tile', [empty([0, 1]), { name: 'r', init: i64([1, big]) }], [0, big]],
      ['Pad', [empty([0, 1]), { name: 'p', init: i64([0, 0, 0, big - 1]) }], [0, big]],
    ];
    for (const [op, ins, dims] of cases) {
      const [y] = await run(op, ins);
      expect(y!.dims).toEqual(dims);
      expect(y!.size).toBe(0);
    }
  });

  it('pooling pads not smaller than the dilated window → ShapeError (onnxruntime\'s rule; huge pads made huge all-padding outputs)', async () => {
    const x = { name: 'X', feed: f32([1, 1, 4, 4]) };
    const [ok] = await run('AveragePool', [x], { kernel_shape: [2, 2], pads: [1, 1, 1, 1] });
    expect(ok!.dims).toEqual([1, 1, 5, 5]);
    for (const op of ['AveragePool', 'MaxPool', 'LpPool'])
      await expect(run(op, [x], { kernel_shape: [2, 2], pads: [0, 2 ** 20, 0, 0] })).rejects.toThrow(new RegExp(`'n0' \\(${op}\\): pads \\[0,1048576,0,0\\] must each be smaller than the window \\[2,2\\] \\(kernel_shape × dilations\\)`));
  });

  it('TFLite quantization: a scale not finite and positive, or a zero point outside the type → ModelFormatError naming the tensor', async () => {
    const model = (scale: number, zp: number) =>
      buildTflite({
        tensors: [
          { shape: [1, 4], type: 9, buffer: 0, name: 'x', scale, zp },
          { shape: [1, 4], type: 9, buffer: 0, name: 'y', scale: 0.5, zp: 0 },
        ],
        buffers: [new Uint8Array(0)],
        opcodes: [19], // RELU
        ops: [{ opcode: 0, inputs: [0], outputs: [1] }],
        inputs: [0],
        outputs: [1],
      });
    await expect(InferenceSession.create(model(0.25, -3))).resolves.toBeDefined();
    for (const [scale, zp, msg] of [
      [-1, 0, /'x'.*scale\[0\] = -1 \(expected a finite positive number\)/],
      [NaN, 0, /'x'.*scale\[0\] = NaN/],
      [0, 0, /'x'.*scale\[0\] = 0/],
      [Infinity, 0, /'x'.*scale\[0\] = Infinity/],
      [0.25, 300, /'x'.*zero_point\[0\] = 300 outside \[-128, 127\]/],
    ] as const)
      await expect(InferenceSession.create(model(scale, zp))).rejects.toThrow(msg);
    await expect(InferenceSession.create(model(-1, 0))).rejects.toThrow(ModelFormatError);
  });

  it('an output past 2 GiB (within the element limit) → ShapeError naming node and output (was a multi-GB array filled for minutes)', async () => {
    const i32 = (v: number) => ({ init: new Tensor('int32', Int32Array.from([v]), []) });
    await expect(run('Range', [{ name: 's', ...i32(0) }, { name: 'l', ...i32(2 ** 31 - 1) }, { name: 'd', ...i32(1) }])).rejects.toThrow(
      /'n0' \(Range\): output 'y0' \[2147483647\] of int32 would take 8589934588 bytes, more than the 2147483648-byte limit/,
    );
    const shape = { name: 'S', init: i64([2 ** 28 + 1]) };
    await expect(run('ConstantOfShape', [shape], { value: new Tensor('float64', Float64Array.from([1]), [1]) })).rejects.toThrow(ShapeError);
    const [ok] = await run('Range', [{ name: 's', ...i32(0) }, { name: 'l', ...i32(5) }, { name: 'd', ...i32(2) }]);
    expect(Array.from(ok!.data as Int32Array)).toEqual([0, 2, 4]);
  });

  it('Resize antialias with a scale below 1 / input length (1e-40) → an empty axis without building its filter (was a 2/scale-tap array: out of memory)', async () => {
    const x = { name: 'X', feed: f32([1, 2, 6, 8]) };
    const scales = (v: number[]) => ({ name: 'S', init: new Tensor('float32', Float32Array.from(v), [4]) });
    for (const mode of ['linear', 'cubic']) {
      const [y] = await run('Resize', [x, '', scales([1, 1, 1e-40, 0.75])], { mode, antialias: 1 });
      expect(y!.dims).toEqual([1, 2, 0, 6]);
      const [z] = await run('Resize', [x, '', scales([1, 1, 0.5, 0.75])], { mode, antialias: 1 });
      expect(z!.dims).toEqual([1, 2, 3, 6]);
    }
  });
});
