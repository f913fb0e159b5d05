// The TFLite importer maps float32 ops onto the ONNX op definitions (issue 4's "define each op once" rule):
// hand-built one-op .tflite models are imported and run, and compared with the ai.edgeq.tflite definitions
// (TFLite's own semantics, NHWC) where they remain, else with naive NHWC / OHWI / 1HWO formulas, on the same inputs.
import { describe, expect, it } from 'vitest';
import { readTflite } from '../../../src/formats/tflite/reader.js';
import { Graph } from '../../../src/ir/graph.js';
import { TFL_DOMAIN, tflPadding } from '../../../src/ops/tflite.js';
import { writeOnnx } from '../../../src/formats/onnx/writer.js';
import { readFileSync } from 'node:fs';
import { dataPath, hasData } from '../../helpers/data.js';
import { type OneOpSpec as Spec, type OptionField, oneOpTflite as build } from '../../helpers/tflite-builder.js';
import { InferenceSession } from '../../../src/runtime/session.js';
import { Tensor } from '../../../src/tensor/tensor.js';

const rnd = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed * 78.233) * 3);
const size = (d: number[]) => d.reduce((a, c) => a * c, 1);
const SAME = 0, VALID = 1, RELU6 = 3, RELU = 1;

/** Naive float oracles for the TFLite ops whose ai.edgeq.tflite definitions are gone (NHWC, TFLite padding.h). */
function naiveConv(x: Tensor, w: Tensor, b: Tensor | undefined, dw: boolean, pad: 'SAME' | 'VALID', s: [number, number], d: [number, number]): Tensor {
  const [N, H, W, C] = x.dims as number[];
  const [w0, KH, KW, w3] = w.dims as number[];
  const O = dw ? w3! : w0!;
  const cg = dw ? 1 : w3!;
  const ph = tflPadding(pad, H!, KH!, s[0], d[0]), pw = tflPadding(pad, W!, KW!, s[1], d[1]);
  const out = new Float32Array(N! * ph.out * pw.out * O);
  const xd = x.data as Float32Array, wd = w.data as Float32Array;
  let o = 0;
  for (let n = 0; n < N!; n++)
    for (let oy = 0; oy < ph.out; oy++)
      for (let ox = 0; ox < pw.out; ox++)
        for (let m = 0; m < O; m++, o++) {
          let acc = b ? (b.data as Float32Array)[m]! : 0;
          const g = dw ? Math.floor(m / (O / C!)) : Math.floor(m / (O / (C! / cg)));
          for (let ky = 0; ky < KH!; ky++)
            for (let kx = 0; kx < KW!; kx++) {
              const iy = oy * s[0] - ph.pad + ky * d[0], ix = ox * s[1] - pw.pad + kx * d[1];
              if (iy < 0 || iy >= H! || ix < 0 || ix >= W!) continue;
              for (let c = 0; c < cg; c++) {
                const xv = xd[((n * H! + iy) * W! + ix) * C! + g * cg + c]!;
                acc += xv * (dw ? wd[(ky * KW! + kx) * O + m]! : wd[((m * KH! + ky) * KW! + kx) * cg + c]!);
              }
            }
          out[o] = acc;
        }
  return new Tensor('float32', out, [N!, ph.out, pw.out, O]);
}
function naiveFC(x: Tensor, w: Tensor, b: Tensor, outDims: number[]): Tensor {
  const [U, K] = w.dims as [number, number];
  const B = x.size / K;
  const out = new Float32Array(B * U);
  for (let r = 0; r < B; r++)
    for (let u = 0; u < U; u++) {
      let acc = (b.data as Float32Array)[u]!;
      for (let k = 0; k < K; k++) acc += (x.data as Float32Array)[r * K + k]! * (w.data as Float32Array)[u * K + k]!;
      out[r * U + u] = acc;
    }
  return new Tensor('float32', out, outDims);
}
function naiveBinary(a: Tensor, b: Tensor, f: (p: number, q: number) => number): Tensor {
  // b broadcast against a (b's dims align to a's trailing dims; a is the larger one in these tests)
  const r = a.dims.length;
  const bd = [...new Array(r - b.dims.length).fill(1), ...b.dims];
  const out = new Float32Array(a.size);
  for (let i = 0; i < a.size; i++) {
    let rem = i, j = 0, stride = 1;
    const idx: number[] = new Array(r);
    for (let k = r - 1; k >= 0; k--) {
      idx[k] = rem % a.dims[k]!;
      rem = Math.floor(rem / a.dims[k]!);
    }
    for (let k = r - 1; k >= 0; k--) {
      j += (bd[k] === 1 ? 0 : idx[k]!) * stride;
      stride *= bd[k]!;
    }
    out[i] = f((a.data as Float32Array)[i]!, (b.data as Float32Array)[j]!);
  }
  return new Tensor('float32', out, [...a.dims]);
}

type Oracle = { tfl: string; attrs: Record<string, unknown> } | ((xs: Tensor[]) => Tensor);

/** Import + run the model; compute the oracle (a TFLite-domain op or a naive formula) on the same tensors. */
async function check(s: Spec, oracle: Oracle, act?: 'RELU' | 'RELU6'): Promise<Graph> {
  const g = readTflite(build(s));
  const feeds: Record<string, Tensor> = {};
  const xs: Tensor[] = s.inputs.map((k, j) => {
    const t = s.tensors[k]!;
    if (t.data) return new Tensor(t.type === 2 ? 'int32' : 'float32', t.data as never, t.shape);
    const x = new Tensor('float32', rnd(size(t.shape), 10 + j), t.shape);
    feeds[`t${k}`] = x;
    return x;
  });
  const y = (await InferenceSession.create(g)).runSync(feeds)[`t${s.outputs[0]}`]!;
  let want: Tensor;
  if (typeof oracle === 'function') {
    want = oracle(xs);
    if (act) want = new Tensor('float32', (want.data as Float32Array).map((v) => Math.min(Math.max(v, 0), act === 'RELU6' ? 6 : Infinity)), [...want.dims]);
  } else want = await tflOracle(s, xs, oracle.tfl, oracle.attrs, act);
  expect(y.dims).toEqual(want.dims);
  const a = y.data as Float32Array, w = want.data as Float32Array;
  for (let k = 0; k < w.length; k++) expect(Math.abs(a[k]! - w[k]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(w[k]!)));
  expect(g.nodes.filter((n) => n.domain !== '').map((n) => n.op)).toEqual([]);
  return g;
}

/** The same computation on an ai.edgeq.tflite definition. */
async function tflOracle(s: Spec, xs: Tensor[], tflOp: string, tflAttrs: Record<string, unknown>, act?: 'RELU' | 'RELU6'): Promise<Tensor> {
  const r = new Graph();
  r.opsets = { '': 18, [TFL_DOMAIN]: 1 };
  const names = xs.map((x, j) => {
    if (s.tensors[s.inputs[j]!]!.data) r.initializers.set(`c${j}`, x);
    else r.inputs.push({ name: `c${j}`, type: { dtype: 'float32', shape: [...x.dims] } });
    return `c${j}`;
  });
  r.nodes.push({ name: 'ref', op: tflOp, domain: TFL_DOMAIN, inputs: names, outputs: [act ? 'pre' : 'y'], attrs: tflAttrs as never });
  if (act) {
    r.initializers.set('lo', new Tensor('float32', Float32Array.of(0), []));
    r.initializers.set('hi', new Tensor('float32', Float32Array.of(act === 'RELU6' ? 6 : Infinity), []));
    r.nodes.push({ name: 'act', op: 'Clip', domain: '', inputs: ['pre', 'lo', 'hi'], outputs: ['y'], attrs: {} });
  }
  r.outputs.push({ name: 'y', type: { dtype: 'float32' } });
  const rf: Record<string, Tensor> = {};
  names.forEach((n, j) => !s.tensors[s.inputs[j]!]!.data && (rf[n] = xs[j]!));
  return (await InferenceSession.create(r)).runSync(rf).y!;
}

describe('float TFLite ops import as ONNX ops', () => {
  it('CONV_2D (SAME, stride 2, dilation, fused RELU6) → Conv NHWC/OHWI + Clip', async () => {
    const s: Spec = {
      tensors: [{ shape: [1, 9, 8, 4] }, { shape: [5, 3, 2, 4], data: rnd(120, 1) }, { shape: [5], data: rnd(5, 2) }, { shape: [1, 5, 4, 5] }],
      opcode: 3,
      options: { type: 1, fields: [[0, 'i8', SAME], [1, 'i32', 2], [2, 'i32', 2], [3, 'i8', RELU6], [4, 'i32', 1], [5, 'i32', 2]] },
      inputs: [0, 1, 2],
      outputs: [3],
    };
    const g = await check(s, ([x, w, b]) => naiveConv(x!, w!, b, false, 'SAME', [2, 2], [2, 1]), 'RELU6');
    expect(g.nodes.map((n) => n.op)).toEqual(['Conv', 'Clip']);
    expect(g.nodes[0]!.attrs).toMatchObject({ auto_pad: 'SAME_UPPER', strides: [2, 2], dilations: [2, 1], data_layout: 'NHWC', weight_layout: 'OHWI' });
  });
  it('grouped CONV_2D without bias (VALID)', async () => {
    const s: Spec = {
      tensors: [{ shape: [2, 5, 5, 4] }, { shape: [6, 2, 2, 2], data: rnd(48, 3) }, { shape: [2, 4, 4, 6] }],
      opcode: 3,
      options: { type: 1, fields: [[0, 'i8', VALID], [1, 'i32', 1], [2, 'i32', 1]] },
      inputs: [0, 1],
      outputs: [2],
    };
    const g = await check(s, ([x, w]) => naiveConv(x!, w!, undefined, false, 'VALID', [1, 1], [1, 1]));
    expect(g.nodes[0]!.attrs.group).toBe(2);
  });
  it('DEPTHWISE_CONV_2D (multiplier 2, SAME) → Conv NHWC/1HWO with group = C', async () => {
    const s: Spec = {
      tensors: [{ shape: [1, 6, 7, 3] }, { shape: [1, 3, 3, 6], data: rnd(54, 4) }, { shape: [6], data: rnd(6, 5) }, { shape: [1, 6, 7, 6] }],
      opcode: 4,
      options: { type: 2, fields: [[0, 'i8', SAME], [1, 'i32', 1], [2, 'i32', 1], [3, 'i32', 2]] },
      inputs: [0, 1, 2],
      outputs: [3],
    };
    const g = await check(s, ([x, w, b]) => naiveConv(x!, w!, b, true, 'SAME', [1, 1], [1, 1]));
    expect(g.nodes[0]!.attrs).toMatchObject({ group: 3, weight_layout: '1HWO' });
  });
  for (const [opcode, name, onnx] of [[1, 'AVERAGE_POOL_2D', 'AveragePool'], [17, 'MAX_POOL_2D', 'MaxPool']] as const)
    it(`${name} (SAME, stride 2, fused RELU) → ${onnx} NHWC + Relu`, async () => {
      const s: Spec = {
        tensors: [{ shape: [1, 7, 6, 3] }, { shape: [1, 4, 3, 3] }],
        opcode,
        options: { type: 5, fields: [[0, 'i8', SAME], [1, 'i32', 2], [2, 'i32', 2], [3, 'i32', 3], [4, 'i32', 3], [5, 'i8', RELU]] },
        inputs: [0],
        outputs: [1],
      };
      const g = await check(s, { tfl: name, attrs: { padding: 'SAME', stride_w: 2, stride_h: 2, filter_width: 3, filter_height: 3 } }, 'RELU');
      expect(g.nodes.map((n) => n.op)).toEqual([onnx, 'Relu']);
    });
  it('FULLY_CONNECTED on a 3-D input, with and without keep_num_dims → Reshape + Gemm(transB)', async () => {
    for (const keep of [0, 1]) {
      const s: Spec = {
        tensors: [{ shape: [2, 3, 4] }, { shape: [5, 4], data: rnd(20, 6) }, { shape: [5], data: rnd(5, 7) }, { shape: keep ? [2, 3, 5] : [6, 5] }],
        opcode: 9,
        options: { type: 8, fields: [[2, 'bool', keep]] },
        inputs: [0, 1, 2],
        outputs: [3],
      };
      const g = await check(s, ([x, w, b]) => naiveFC(x!, w!, b!, keep ? [2, 3, 5] : [6, 5]));
      expect(g.nodes.map((n) => n.op)).toEqual(keep ? ['Reshape', 'Gemm', 'Reshape'] : ['Reshape', 'Gemm']);
    }
  });
  const OPS = { ADD: (p: number, q: number) => p + q, SUB: (p: number, q: number) => p - q, MUL: (p: number, q: number) => p * q };
  for (const [opcode, name, type] of [[0, 'ADD', 11], [41, 'SUB', 28], [18, 'MUL', 21]] as const)
    it(`${name} with broadcasting`, async () => {
      const s: Spec = { tensors: [{ shape: [2, 3, 4] }, { shape: [3, 1] }, { shape: [2, 3, 4] }], opcode, options: { type, fields: [] }, inputs: [0, 1], outputs: [2] };
      await check(s, ([a, b]) => naiveBinary(a!, b!, OPS[name]));
    });
  it('SOFTMAX (beta 1) → Softmax over the last axis; other betas stay TFLite', async () => {
    const s: Spec = { tensors: [{ shape: [3, 7] }, { shape: [3, 7] }], opcode: 25, options: { type: 9, fields: [[0, 'f32', 1]] }, inputs: [0], outputs: [1] };
    expect((await check(s, { tfl: 'SOFTMAX', attrs: { beta: 1 } })).nodes[0]!.op).toBe('Softmax');
    const g = readTflite(build({ ...s, options: { type: 9, fields: [[0, 'f32', 0.5]] } }));
    expect(g.nodes[0]!.op).toBe('SOFTMAX');
  });
  it('MEAN (repeated, negative axes, keep_dims) → ReduceMean', async () => {
    for (const keep of [0, 1]) {
      const s: Spec = {
        tensors: [{ shape: [2, 4, 5, 3] }, { shape: [3], type: 2, data: Int32Array.of(1, -2, 1) }, { shape: keep ? [2, 1, 1, 3] : [2, 3] }],
        opcode: 40,
        options: { type: 27, fields: [[0, 'bool', keep]] },
        inputs: [0, 1],
        outputs: [2],
      };
      const g = await check(s, { tfl: 'MEAN', attrs: { keep_dims: keep } });
      expect(g.nodes[0]!.op).toBe('ReduceMean');
    }
  });
  for (const [ac, hp] of [[0, 0], [1, 0], [0, 1]])
    it(`RESIZE_BILINEAR (align_corners ${ac}, half_pixel_centers ${hp}) → Resize linear on axes 1, 2`, async () => {
      for (const [oh, ow] of [[9, 5], [2, 3]]) {
        const s: Spec = {
          tensors: [{ shape: [2, 4, 6, 3] }, { shape: [2], type: 2, data: Int32Array.of(oh!, ow!) }, { shape: [2, oh!, ow!, 3] }],
          opcode: 23,
          options: { type: 15, fields: [[2, 'bool', ac!], [3, 'bool', hp!]] },
          inputs: [0, 1],
          outputs: [2],
        };
        const g = await check(s, { tfl: 'RESIZE_BILINEAR', attrs: { align_corners: ac, half_pixel_centers: hp } });
        expect(g.nodes[0]!.op).toBe('Resize');
      }
    });
  for (const [pad, sh, kh, oh, bias] of [[SAME, 2, 3, 10, true], [VALID, 2, 3, 11, false], [SAME, 3, 2, 13, true], [VALID, 1, 2, 6, true]] as const)
    it(`TRANSPOSE_CONV (${pad === SAME ? 'SAME' : 'VALID'}, stride ${sh}, kernel ${kh}, out ${oh}) → ConvTranspose NHWC/OHWI`, async () => {
      const ow = 2 * 4 + 1;
      const s: Spec = {
        tensors: [
          { shape: [4], type: 2, data: Int32Array.of(1, oh, ow, 3) },
          { shape: [3, kh, 2, 2], data: rnd(3 * kh * 2 * 2, 8) },
          { shape: [1, 5, 5, 2] },
          ...(bias ? [{ shape: [3], data: rnd(3, 9) }] : []),
          { shape: [1, oh, ow, 3] },
        ],
        opcode: 67,
        options: { type: 49, fields: [[0, 'i8', pad], [1, 'i32', 2], [2, 'i32', sh]] },
        inputs: bias ? [0, 1, 2, 3] : [0, 1, 2],
        outputs: [bias ? 4 : 3],
      };
      const g = await check(s, { tfl: 'TRANSPOSE_CONV', attrs: { padding: pad === SAME ? 'SAME' : 'VALID', stride_w: 2, stride_h: sh } });
      expect(g.nodes[0]!.op).toBe('ConvTranspose');
    });
  it('RELU6 / RELU_N1_TO_1 → Clip, LEAKY_RELU → LeakyRelu', async () => {
    for (const [opcode, name, options] of [[21, 'RELU6', undefined], [20, 'RELU_N1_TO_1', undefined], [98, 'LEAKY_RELU', { type: 75, fields: [[0, 'f32', 0.2]] as OptionField[] }]] as const) {
      const s: Spec = { tensors: [{ shape: [2, 9] }, { shape: [2, 9] }], opcode, ...(options ? { options } : {}), inputs: [0], outputs: [1] };
      const f = name === 'LEAKY_RELU' ? (v: number) => (v > 0 ? v : Math.fround(v * Math.fround(0.2))) : name === 'RELU6' ? (v: number) => Math.min(Math.max(v, 0), 6) : (v: number) => Math.min(Math.max(v, -1), 1);
      const g = await check(s, ([x]) => new Tensor('float32', (x!.data as Float32Array).map(f), [...x!.dims]));
      expect(g.nodes[0]!.op).toBe(name === 'LEAKY_RELU' ? 'LeakyRelu' : 'Clip');
    }
  });
  it('DEQUANTIZE float16 → float32 is a Cast', async () => {
    const h = Uint16Array.of(0x3c00, 0xc000, 0x3555); // 1, -2, ≈0.333
    const s: Spec = { tensors: [{ shape: [3], type: 1, data: h }, { shape: [3] }], opcode: 6, inputs: [0], outputs: [1] };
    const g = readTflite(build(s));
    expect(g.nodes.map((n) => n.op)).toEqual(['Cast']);
    const y = (await InferenceSession.create(g)).runSync({})['t1']!;
    expect(Array.from(y.data as Float32Array)).toEqual([1, -2, Math.fround(0.333251953125)]);
  });
});

describe('quantized TFLite ops import as QLinearConv / QGemm / QLinearAdd with rounding tflite', () => {
  it.runIf(hasData('tflite/person_detection/person_detect.tflite'))('person_detect: int8 CONV_2D / DEPTHWISE_CONV_2D → QLinearConv NHWC', () => {
    const g = readTflite(new Uint8Array(readFileSync(dataPath('tflite/person_detection/person_detect.tflite'))));
    const convs = g.nodes.filter((n) => n.op === 'QLinearConv');
    expect(convs.length).toBe(28);
    expect(convs.every((n) => n.attrs.rounding === 'tflite' && n.attrs.data_layout === 'NHWC')).toBe(true);
    expect(convs.filter((n) => n.attrs.weight_layout === '1HWO').length).toBe(14);
    expect(g.nodes.some((n) => n.op === 'CONV_2D' || n.op === 'DEPTHWISE_CONV_2D')).toBe(false);
    // no ONNX runtime knows rounding 'tflite' / NHWC: the writer refuses instead of writing a wrong model
    expect(() => writeOnnx(g)).toThrow(/cannot write ONNX/);
  });
  it.runIf(hasData('tflite/hello_world_int8.tflite'))('hello_world_int8: int8 FULLY_CONNECTED → com.microsoft QGemm', () => {
    const g = readTflite(new Uint8Array(readFileSync(dataPath('tflite/hello_world_int8.tflite'))));
    expect(g.nodes.filter((n) => n.op === 'QGemm' && n.domain === 'com.microsoft' && n.attrs.rounding === 'tflite').length).toBe(3);
  });
  it.runIf(hasData('tflite/seanet/add/add0.tflite'))('seanet add (16x8 ADD) → QLinearAdd, seanet sub stays SUB', () => {
    const a = readTflite(new Uint8Array(readFileSync(dataPath('tflite/seanet/add/add0.tflite'))));
    expect(a.nodes.map((n) => `${n.domain}:${n.op}`)).toEqual(['com.microsoft:QLinearAdd']);
    const s = readTflite(new Uint8Array(readFileSync(dataPath('tflite/seanet/sub/sub0.tflite'))));
    expect(s.nodes.map((n) => `${n.domain}:${n.op}`)).toEqual([`${TFL_DOMAIN}:SUB`]);
  });
});

describe('int8 MAX_POOL_2D → MaxPool NHWC (a plain max; input and output share quantization)', () => {
  it('matches the TFLite definition and keeps int16 / mismatched quantization on it', async () => {
    const x = Int8Array.from({ length: 2 * 5 * 6 * 3 }, (_, i) => ((i * 37) % 256) - 128);
    const spec = (type: number, qo: [number, number]): Spec => ({
      tensors: [{ shape: [2, 5, 6, 3], type, q: [0.5, -3] }, { shape: [2, 3, 3, 3], type, q: qo }],
      opcode: 17,
      options: { type: 5, fields: [[0, 'i8', SAME], [1, 'i32', 2], [2, 'i32', 2], [3, 'i32', 2], [4, 'i32', 3]] },
      inputs: [0],
      outputs: [1],
    });
    const g = readTflite(build(spec(9, [0.5, -3])));
    expect(g.nodes.map((n) => n.op)).toEqual(['MaxPool']);
    const y = (await InferenceSession.create(g)).runSync({ t0: new Tensor('int8', x, [2, 5, 6, 3]) }).t1!;
    const r = new Graph();
    r.opsets = { '': 18, [TFL_DOMAIN]: 1 };
    r.inputs.push({ name: 'x', type: { dtype: 'int8', shape: [2, 5, 6, 3] } });
    const q = { in_scale: [0.5], in_zero_point: [-3], out_scale: [0.5], out_zero_point: [-3] };
    r.nodes.push({ name: 'ref', op: 'MAX_POOL_2D', domain: TFL_DOMAIN, inputs: ['x'], outputs: ['y'], attrs: { padding: 'SAME', stride_w: 2, stride_h: 2, filter_width: 2, filter_height: 3, ...q } as never });
    r.outputs.push({ name: 'y', type: { dtype: 'int8' } });
    const want = (await InferenceSession.create(r)).runSync({ x: new Tensor('int8', x, [2, 5, 6, 3]) }).y!;
    expect(y.dims).toEqual(want.dims);
    expect(Array.from(y.data as Int8Array)).toEqual(Array.from(want.data as Int8Array));
    expect(readTflite(build(spec(7, [0.5, -3]))).nodes[0]!.op).toBe('MAX_POOL_2D'); // int16: ONNX MaxPool has no int16
    expect(readTflite(build(spec(9, [0.25, -3]))).nodes[0]!.op).toBe('MAX_POOL_2D'); // rescaling max pool: not a plain max
  });
});
