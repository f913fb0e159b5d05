/**
 * Weight-only block quantization to onnxruntime's com.microsoft MatMulNBits (4 or 8 bits): each MatMul
 * (and Gemm with transA = 0, alpha = beta = 1) whose weight is a float32 2-D initializer becomes
 * MatMulNBits(A, B, scales[, zero_points]) (+ Add for a Gemm bias), accuracy_level 4 unless asked otherwise (runtimes
 * may then multiply with int8 activations: src/kernels/nbits.ts). Activations stay float in the file.
 * Layout (see src/ops/contrib.ts): B uint8 [N, k_blocks, blob_size], scales [N·k_blocks], zero points
 * packed per row of N. Blocks run along K; the last block is padded with the zero point's code.
 */
import type { Graph, Node } from '../ir/graph.js';
import { analyze } from '../ir/infer.js';
import type { NBitsGeom } from '../ops/contrib.js';
import { floats } from '../ops/util.js';
import { Tensor } from '../tensor/tensor.js';
import { quantizeTables } from './tables.js';
import { Names, consumersOf, f32, mkNode } from './graph-util.js';
import { sqnrDb } from './params.js';
import type { LayerQuant, QuantizeOptions, QuantizeResult } from './quantize.js';

/** Block-quantize a [K, N] weight (row-major, MatMul layout) into MatMulNBits B / scales / zero points. */
export function quantizeNBits(w: ArrayLike<number>, K: number, N: number, bits: 4 | 8, blockSize: number, zeroPoints: boolean): { gm: NBitsGeom; b: Uint8Array; scales: Float32Array; zp?: Uint8Array; sqnr: number } {
  const kBlocks = Math.ceil(K / blockSize);
  const blobSize = (blockSize * bits) / 8;
  const zpRow = Math.ceil((kBlocks * bits) / 8);
  const gm: NBitsGeom = { K, N, bits, blockSize, kBlocks, blobSize, zpRow };
  const qmax = (1 << bits) - 1;
  const mid = 1 << (bits - 1);
  const b = new Uint8Array(N * kBlocks * blobSize);
  const scales = new Float32Array(N * kBlocks);
  const zp = zeroPoints ? new Uint8Array(N * zpRow) : undefined;
  let sig = 0;
  let err = 0;
  const put = (arr: Uint8Array, base: number, i: number, code: number) => {
    if (bits === 8) arr[base + i] = code;
    else arr[base + (i >> 1)]! |= code << ((i & 1) * 4);
  };
  for (let n = 0; n < N; n++)
    for (let blk = 0; blk < kBlocks; blk++) {
      const k0 = blk * blockSize;
      const kEnd = Math.min(K, k0 + blockSize);
      let lo = 0;
      let hi = 0;
      let amax = 0; // signed value of largest magnitude (symmetric form, as onnxruntime's quantizer)
      for (let k = k0; k < kEnd; k++) {
        const v = w[k * N + n]!;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
        if (Math.abs(v) > Math.abs(amax)) amax = v;
      }
      let s: number;
      let z: number;
      if (zp) {
        s = (hi - lo) / qmax;
        z = s === 0 ? mid : Math.min(qmax, Math.max(0, Math.round(-lo / s)));
      } else {
        s = amax / -mid;
        z = mid;
      }
      s = Math.fround(s);
      scales[n * kBlocks + blk] = s;
      if (zp) put(zp, n * zpRow, blk, z);
      const base = (n * kBlocks + blk) * blobSize;
      for (let k = k0; k < k0 + blockSize; k++) {
        let code = z;
        if (k < kEnd) {
          const v = w[k * N + n]!;
          code = s === 0 ? z : Math.min(qmax, Math.max(0, Math.round(v / s) + z));
          const d = (code - z) * s;
          sig += v * v;
          err += (v - d) * (v - d);
        }
        put(b, base, k - k0, code);
      }
    }
  return { gm, b, scales, ...(zp ? { zp } : {}), sqnr: sqnrDb(sig, err) };
}

const attr = (n: Node, k: string, d: number): number => (typeof n.attrs[k] === 'number' ? (n.attrs[k] as number) : d);

export function weightOnlyQuantize(g: Graph, o: QuantizeOptions, foldedBatchNorms: number, finish: (g: Graph) => Graph): QuantizeResult {
  const an = analyze(g);
  const names = new Names(g);
  const bits = (o.weightBits ?? 4) as 4 | 8;
  const blockSize = o.blockSize ?? 32;
  const zeroPoints = o.zeroPoints ?? true;
  const accuracyLevel = o.accuracyLevel ?? 4;
  const exclude = new Set(o.exclude ?? []);
  const excludeOps = new Set(o.excludeOps ?? []);
  const layers: LayerQuant[] = [];
  const skipped: QuantizeResult['skipped'] = [];
  const out: Node[] = [];
  const cache = new Map<string, { ins: string[]; sqnr: number }>();
  const uses = consumersOf(g);
  const graphOut = new Set(g.outputs.map((o) => o.name));
  /** bias Adds folded into the MatMulNBits before them */
  const absorbed = new Set<Node>();
  for (const n of g.nodes) {
    if (absorbed.has(n)) continue;
    if ((n.op !== 'MatMul' && n.op !== 'Gemm') || n.domain !== '') {
      out.push(n);
      continue;
    }
    const x = n.inputs[0]!;
    const W = g.initializers.get(n.inputs[1] ?? '');
    let why = '';
    if (exclude.has(n.name) || excludeOps.has(n.op)) why = 'excluded';
    else if (an.types.get(x)?.dtype !== 'float32' || g.initializers.has(x)) why = 'input is not a float32 activation';
    else if (!W || W.type !== 'float32') why = 'weight is not a float32 initializer';
    else if (W.dims.length !== 2) why = `${n.op} weight is not 2-D`;
    else if (n.op === 'Gemm' && (attr(n, 'transA', 0) !== 0 || attr(n, 'alpha', 1) !== 1 || attr(n, 'beta', 1) !== 1)) why = 'Gemm with transA / alpha / beta';
    if (why) {
      skipped.push({ node: n.name, op: n.op, reason: why });
      out.push(n);
      continue;
    }
    const transB = n.op === 'Gemm' && attr(n, 'transB', 0) === 1;
    const v = floats(W!);
    let [K, N] = W!.dims as [number, number];
    let kn: ArrayLike<number> = v;
    if (transB) {
      [N, K] = [K, N];
      const t = new Float32Array(K * N);
      for (let r = 0; r < N; r++) for (let c = 0; c < K; c++) t[c * N + r] = v[r * K + c]!;
      kn = t;
    }
    const w = n.inputs[1]!;
    // one quantized copy per weight (layers sharing a weight share its blocks)
    const key = `${w}\u0000${transB}`;
    let c0 = cache.get(key);
    if (!c0) {
      const q = quantizeNBits(kn, K, N, bits, blockSize, zeroPoints);
      const bn = names.take(`${w}_nbits`);
      const sn = names.take(`${w}_scales`);
      g.initializers.set(bn, new Tensor('uint8', q.b, [N, q.gm.kBlocks, q.gm.blobSize]));
      g.initializers.set(sn, f32([N * q.gm.kBlocks], q.scales));
      const ins = [bn, sn];
      if (q.zp) {
        const zn = names.take(`${w}_zero_points`);
        g.initializers.set(zn, new Tensor('uint8', q.zp, [q.zp.length]));
        ins.push(zn);
      }
      c0 = { ins, sqnr: q.sqnr };
      cache.set(key, c0);
    }
    const q = c0;
    const ins = [x, ...c0.ins];
    let c = n.op === 'Gemm' ? n.inputs[2] : '';
    let y = n.outputs[0]!;
    // a bias [N] — Gemm's C, or the Add(MatMul, b) that exporters write after MatMul — becomes MatMulNBits' bias input
    const isBias = (b: string | undefined) => {
      const t = b ? g.initializers.get(b) : undefined;
      return !!t && t.type === 'float32' && t.dims.length === 1 && t.dims[0] === N;
    };
    let bias = '';
    if (c && isBias(c)) [bias, c] = [c, ''];
    else if (!c) {
      const u = uses.get(y) ?? [];
      const add = u.length === 1 && !graphOut.has(y) && u[0]!.op === 'Add' && u[0]!.domain === '' && !exclude.has(u[0]!.name) ? u[0]! : undefined;
      const b = add ? (add.inputs[0] === y ? add.inputs[1] : add.inputs[0]) : undefined;
      if (add && b !== y && isBias(b)) {
        bias = b!;
        absorbed.add(add);
        y = add.outputs[0]!;
      }
    }
    const mm = c ? names.take(`${n.name}_nbits_out`) : y;
    if (bias) {
      while (ins.length < 5) ins.push('');
      ins.push(bias);
    }
    out.push(mkNode(names.take(`${n.name}_MatMulNBits`), 'MatMulNBits', ins, [mm], { K, N, bits, block_size: blockSize, accuracy_level: accuracyLevel }, 'com.microsoft'));
    if (c) out.push(mkNode(names.take(`${n.name}_Add`), 'Add', [mm, c], [y]));
    layers.push({ node: n.name, op: n.op, weight: w, weightBits: bits, perChannel: true, weightSqnr: q.sqnr, setting: `weight-only int${bits} MatMulNBits, block ${blockSize}${zeroPoints ? ', zero points' : ', symmetric'}` });
  }
  g.nodes = out;
  if (layers.length) g.opsets['com.microsoft'] = Math.max(g.opsets['com.microsoft'] ?? 0, 1);
  if (o.quantizeTables ?? true) {
    // tables only Gather reads (token embeddings) take the weights' bits as GatherBlockQuantized; the rest go int8
    for (const t of quantizeGatherTables(g, exclude, bits, blockSize, zeroPoints))
      layers.push({ node: t.name, op: 'table', weight: t.name, weightBits: bits, perChannel: true, weightSqnr: t.sqnr, setting: `int${bits} blocks of ${blockSize} per row, GatherBlockQuantized` });
  }
  if (o.quantizeTables ?? true)
    for (const t of quantizeTables(g, exclude)) layers.push({ node: t.name, op: 'table', weight: t.name, weightBits: 8, perChannel: true, setting: 'int8 per-row table + DequantizeLinear' });
  return { graph: finish(g), layers, skipped, tensors: new Map(), foldedBatchNorms, options: o };
}

/**
 * Float32 2-D tables (≥ `minElements`) whose every reader is a Gather along axis 0 of the table (token embeddings) become
 * com.microsoft GatherBlockQuantized nodes over `bits`-bit codes in blocks of `blockSize` along each row — the layout
 * MatMulNBits uses for one weight column, so quantizeNBits of the transposed table writes it: data uint8
 * [rows, cols·bits/8], scales [rows, cols / blockSize], zero points packed per row. Rows whose length is not a multiple
 * of the block size are left to quantizeTables (int8).
 */
export function quantizeGatherTables(g: Graph, exclude: ReadonlySet<string>, bits: 4 | 8, blockSize: number, zeroPoints: boolean, minElements = 16384): { name: string; elements: number; sqnr: number }[] {
  const cons = consumersOf(g);
  const names = new Names(g);
  const graphOut = new Set(g.outputs.map((o) => o.name));
  const done: { name: string; elements: number; sqnr: number }[] = [];
  const replace = new Map<Node, Node>();
  for (const [name, t] of [...g.initializers]) {
    if (g.inputs.some((i) => i.name === name)) continue;
    if (t.type !== 'float32' || t.size < minElements || t.dims.length !== 2 || graphOut.has(name) || exclude.has(name)) continue;
    const [rows, cols] = t.dims as [number, number];
    if (cols % blockSize !== 0) continue;
    const cs = cons.get(name) ?? [];
    if (!cs.length || cs.some((n) => n.op !== 'Gather' || n.domain !== '' || n.inputs[0] !== name || n.inputs[1] === name || attr(n, 'axis', 0) !== 0 || exclude.has(n.name))) continue;
    // the table transposed is a [K = cols, N = rows] weight whose columns are the table's rows
    const v = floats(t);
    const kn = new Float32Array(t.size);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) kn[c * rows + r] = v[r * cols + c]!;
    const q = quantizeNBits(kn, cols, rows, bits, blockSize, zeroPoints);
    const dn = names.take(`${name}_q${bits}`);
    const sn = names.take(`${name}_scales`);
    g.initializers.delete(name);
    g.initializers.set(dn, new Tensor('uint8', q.b, [rows, (cols * bits) / 8]));
    g.initializers.set(sn, f32([rows, q.gm.kBlocks], q.scales));
    const ins = [dn, '', sn];
    if (q.zp) {
      const zn = names.take(`${name}_zero_points`);
      g.initializers.set(zn, new Tensor('uint8', q.zp, [rows, q.gm.zpRow]));
      ins.push(zn);
    }
    for (const n of cs) replace.set(n, mkNode(names.take(`${n.name}_GatherBlockQuantized`), 'GatherBlockQuantized', [ins[0]!, n.inputs[1]!, ...ins.slice(2)], [...n.outputs], { bits, block_size: blockSize, gather_axis: 0, quantize_axis: 1 }, 'com.microsoft'));
    done.push({ name, elements: t.size, sqnr: q.sqnr });
  }
  if (replace.size) {
    g.nodes = g.nodes.map((n) => replace.get(n) ?? n);
    g.opsets['com.microsoft'] = Math.max(g.opsets['com.microsoft'] ?? 0, 1);
  }
  return done;
}
