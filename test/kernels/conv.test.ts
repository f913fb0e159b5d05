// WASM Conv kernels (f32_im2col_pack_8 + f32_gemm, f32_dwconv2d / 3x3 / 5x5 / plane, fused Relu/Clip) against the TS reference Conv.
// ONNX Conv: Y[n, m, oy, ox] = B[m] + Σ_{c in group(m), ky, kx} X[n, c, oy·s − pad + ky·d, ox·s − pad + kx·d] · W[m, c, ky, kx]
// Float sums run in another order, so results agree to 1e-5 relative (issue 5), not bit for bit.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/ir/graph.js';
import { Executor, RAN, newNodeTimes } from '../../src/runtime/executor.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { arena, kernels } from '../../src/kernels/wasm.js';
import { im2colPack } from '../../src/kernels/im2col.js';

/** Same dims, and every value within 1e-5 relative (the sums run in another order than the reference's). */
function expectClose(got: Tensor, want: Tensor): void {
  expect(got.dims).toEqual(want.dims);
  const a = got.data as Float32Array;
  const b = want.data as Float32Array;
  for (let i = 0; i < b.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(b[i]!)));
}

interface Case {
  n: number; c: number; h: number; w: number; group: number; mg: number; kh: number; kw: number;
  s: [number, number]; d: [number, number]; pads: number[]; autoPad: string; bias: boolean; act: 'none' | 'relu' | 'clip';
}

function build(k: Case, seed: number): { g: Graph; x: Tensor } {
  let r = seed;
  const rnd = () => ((r = (Math.imul(r, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const cg = k.c / k.group;
  const m = k.mg * k.group;
  const g = new Graph();
  g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [k.n, k.c, k.h, k.w] } }];
  g.initializers.set('W', new Tensor('float32', Float32Array.from({ length: m * cg * k.kh * k.kw }, rnd), [m, cg, k.kh, k.kw]));
  if (k.bias) g.initializers.set('B', new Tensor('float32', Float32Array.from({ length: m }, rnd), [m]));
  const attrs: Record<string, number | number[] | string> = { group: k.group, strides: k.s, dilations: k.d, kernel_shape: [k.kh, k.kw] };
  if (k.autoPad === 'NOTSET') attrs.pads = k.pads;
  else attrs.auto_pad = k.autoPad;
  g.nodes.push({ name: 'conv', op: 'Conv', domain: '', inputs: ['X', 'W', k.bias ? 'B' : ''], outputs: [k.act === 'none' ? 'Y' : 'T'], attrs });
  if (k.act === 'relu') g.nodes.push({ name: 'relu', op: 'Relu', domain: '', inputs: ['T'], outputs: ['Y'], attrs: {} });
  if (k.act === 'clip') {
    g.initializers.set('lo', new Tensor('float32', Float32Array.of(-0.5), []));
    g.initializers.set('hi', new Tensor('float32', Float32Array.of(0.75), []));
    g.nodes.push({ name: 'clip', op: 'Clip', domain: '', inputs: ['T', 'lo', 'hi'], outputs: ['Y'], attrs: {} });
  }
  g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
  const x = new Tensor('float32', Float32Array.from({ length: k.n * k.c * k.h * k.w }, rnd), [k.n, k.c, k.h, k.w]);
  return { g, x };
}

const caseArb: fc.Arbitrary<Case> = fc
  .record({
    n: fc.integer({ min: 1, max: 2 }),
    group: fc.constantFrom(1, 1, 2, 3),
    cg: fc.integer({ min: 1, max: 5 }),
    mg: fc.integer({ min: 1, max: 11 }),
    depthwise: fc.boolean(),
    kh: fc.integer({ min: 1, max: 5 }),
    kw: fc.integer({ min: 1, max: 5 }),
    s: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
    d: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
    pads: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 4, maxLength: 4 }),
    autoPad: fc.constantFrom('NOTSET', 'NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID'),
    extra: fc.tuple(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 13 })),
    bias: fc.boolean(),
    act: fc.constantFrom('none', 'relu', 'clip'),
  })
  .map((r) => {
    const group = r.depthwise ? r.cg * r.group : r.group;
    const c = r.depthwise ? group : r.cg * r.group;
    const mg = r.depthwise ? 1 : r.mg;
    const h = (r.kh - 1) * r.d[0] + 1 + r.extra[0];
    const w = (r.kw - 1) * r.d[1] + 1 + r.extra[1];
    return { n: r.n, c, h, w, group, mg, kh: r.kh, kw: r.kw, s: r.s, d: r.d, pads: r.pads, autoPad: r.autoPad, bias: r.bias, act: r.act } as Case;
  });

describe('WASM Conv kernels vs the TS reference', () => {
  it('agree to 1e-5 over groups, depthwise, strides, dilations, pads, auto_pad and fused clamps', () => {
    let kernelRuns = 0;
    fc.assert(
      fc.property(caseArb, fc.integer(), (k, seed) => {
        const { g, x } = build(k, seed);
        const fast = new Executor(g);
        const ref = new Executor(g, { backend: 'reference' });
        const conv = g.nodes[0]!;
        expect(fast.kernels.has(conv)).toBe(true);
        if (k.act !== 'none') expect(fast.fusedInto.has(g.nodes[1]!)).toBe(true);
        kernelRuns++;
        const got = fast.run({ X: x }).Y!;
        const want = ref.run({ X: x }).Y!;
        fast.dispose();
        expectClose(got, want);
      }),
      { numRuns: 250, seed: 1 },
    );
    expect(kernelRuns).toBe(250);
  });

  // ONNX Conv with group = C = M and W [C, 1, k, k]: each output channel convolves only its own input channel
  // ("group: number of groups input channels and output channels are divided into"); pads and auto_pad as above.
  // "strides: Stride along each spatial axis": the two axes independently — PP-OCR rec's depthwise convs use (2, 1)
  // and (1, 2); any row stride with column stride 1 or 2 runs the padded-plane kernels.
  for (const [kk, name, runs] of [[3, 'f32_dwconv3x3', 300], [5, 'f32_dwconv5x5', 250]] as const) {
    it(`${name} (padded-plane depthwise ${kk}×${kk}, strides (1–3, 1–2)) agrees over sizes, pads and borders`, () => {
      const dwArb = fc.record({
        n: fc.integer({ min: 1, max: 2 }),
        c: fc.integer({ min: 1, max: 6 }),
        h: fc.integer({ min: 1, max: 19 }),
        // up to 41 columns: stride 2 reaches the 8-output loop, the 4-output loop and the scalar tail
        w: fc.integer({ min: 1, max: 41 }),
        s: fc.constantFrom(1, 2),
        sh: fc.constantFrom(0, 0, 1, 2, 3),
        pads: fc.array(fc.integer({ min: 0, max: kk - 1 }), { minLength: 4, maxLength: 4 }),
        autoPad: fc.constantFrom('NOTSET', 'NOTSET', 'SAME_UPPER', 'SAME_LOWER'),
        bias: fc.boolean(),
        act: fc.constantFrom('none', 'relu', 'clip'),
      }).filter((r) => r.autoPad !== 'NOTSET' || (r.h + r.pads[0]! + r.pads[2]! >= kk && r.w + r.pads[1]! + r.pads[3]! >= kk));
      fc.assert(
        fc.property(dwArb, fc.integer(), (r, seed) => {
          // sh 0: the square stride (r.s, r.s); otherwise the row stride alone differs
          const k: Case = { n: r.n, c: r.c, h: r.h, w: r.w, group: r.c, mg: 1, kh: kk, kw: kk, s: [r.sh || r.s, r.s], d: [1, 1], pads: r.pads, autoPad: r.autoPad, bias: r.bias, act: r.act as Case['act'] };
          const { g, x } = build(k, seed);
          const fast = new Executor(g);
          expect(fast.kernels.get(g.nodes[0]!)?.name).toBe(name);
          const got = fast.run({ X: x }).Y!;
          const want = new Executor(g, { backend: 'reference' }).run({ X: x }).Y!;
          fast.dispose();
          expectClose(got, want);
        }),
        { numRuns: runs, seed: kk },
      );
    });
  }

  // ONNX Conv with group 1 and few input channels (a network's first conv over RGB: MediaPipe's 3×3 stride-2 SAME):
  // Y[n, m, oy, ox] = B[m] + Σ_{c, ky, kx} X[n, c, oy·s − pad + ky, ox·s − pad + kx] · W[m, c, ky, kx], taps outside
  // the padded image read 0. f32_conv2d_direct_4x8: 4 pixels × 8 channels per pass, so widths around multiples of 4
  // (pixel tails), channel counts around multiples of 4 and 8 (an unpaired last 4-channel block, partial blocks),
  // borders on every side and strides 1–3 on each axis.
  it('f32_conv2d_direct_4x8 (group 1, ≤ 4 input channels) agrees over pixel and channel tails, strides, pads, borders', () => {
    const arb = fc.record({
      n: fc.integer({ min: 1, max: 2 }),
      c: fc.integer({ min: 1, max: 4 }),
      m: fc.integer({ min: 2, max: 19 }),
      h: fc.integer({ min: 1, max: 13 }),
      w: fc.integer({ min: 1, max: 29 }),
      kh: fc.integer({ min: 1, max: 5 }),
      kw: fc.integer({ min: 1, max: 5 }),
      s: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
      pads: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 4, maxLength: 4 }),
      autoPad: fc.constantFrom('NOTSET', 'NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID'),
      bias: fc.boolean(),
      act: fc.constantFrom('none', 'relu', 'clip'),
    }).filter((r) => r.kh * r.kw > 1 && r.c * r.kh * r.kw <= 64 && (r.autoPad === 'SAME_UPPER' || r.autoPad === 'SAME_LOWER' || (r.h + (r.autoPad === 'VALID' ? 0 : r.pads[0]! + r.pads[2]!) >= r.kh && r.w + (r.autoPad === 'VALID' ? 0 : r.pads[1]! + r.pads[3]!) >= r.kw)));
    let direct = 0;
    fc.assert(
      fc.property(arb, fc.integer(), (r, seed) => {
        const k: Case = { n: r.n, c: r.c, h: r.h, w: r.w, group: 1, mg: r.m, kh: r.kh, kw: r.kw, s: r.s, d: [1, 1], pads: r.pads, autoPad: r.autoPad, bias: r.bias, act: r.act as Case['act'] };
        const { g, x } = build(k, seed);
        const fast = new Executor(g);
        const name = fast.kernels.get(g.nodes[0]!)?.name;
        expect(['f32_conv2d_direct_4x8', 'f32_conv3x3_winograd_2x2']).toContain(name);
        if (name === 'f32_conv2d_direct_4x8') direct++;
        const got = fast.run({ X: x }).Y!;
        const want = new Executor(g, { backend: 'reference' }).run({ X: x }).Y!;
        fast.dispose();
        expectClose(got, want);
      }),
      { numRuns: 300, seed: 14 },
    );
    // Winograd takes some 3×3 stride-1 cases; the direct kernel most
    expect(direct).toBeGreaterThan(200);
  });

  // A TFLite model's first conv reads its NHWC input through the layout pass's Transpose (perm 0,3,1,2). The direct
  // kernel reads through element strides, so it takes the NHWC value in place (channel 1, row w·c, column c) and the
  // Transpose does not run; the taps are summed in the same order, so the bits equal those of the conv fed the
  // transposed input, on the general path and the static plan alike, and agree with the reference.
  it('f32_conv2d_direct_4x8 reads an NHWC input in place of its NCHW Transpose: the Transpose skipped, the same bits', () => {
    const arb = fc.record({
      n: fc.integer({ min: 1, max: 2 }),
      c: fc.integer({ min: 1, max: 4 }),
      m: fc.integer({ min: 2, max: 13 }),
      h: fc.integer({ min: 3, max: 13 }),
      w: fc.integer({ min: 3, max: 21 }),
      k: fc.constantFrom(2, 3, 5),
      s: fc.integer({ min: 1, max: 3 }),
      pads: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 4, maxLength: 4 }),
      act: fc.constantFrom('none', 'relu', 'clip'),
      static: fc.boolean(),
    }).filter((r) => r.c * r.k * r.k <= 64 && r.h + r.pads[0]! + r.pads[2]! >= r.k && r.w + r.pads[1]! + r.pads[3]! >= r.k && !(r.k === 3 && r.s === 1));
    fc.assert(
      fc.property(arb, fc.integer(), (r, seed) => {
        const k: Case = { n: r.n, c: r.c, h: r.h, w: r.w, group: 1, mg: r.m, kh: r.k, kw: r.k, s: [r.s, r.s], d: [1, 1], pads: r.pads, autoPad: 'NOTSET', bias: true, act: r.act as Case['act'] };
        const { g: gNchw, x } = build(k, seed);
        // the same conv behind a Transpose of an NHWC graph input
        const g = gNchw.clone();
        g.inputs = [{ name: 'XH', type: { dtype: 'float32', shape: [r.n, r.h, r.w, r.c] } }];
        g.nodes = [{ name: 'to_nchw', op: 'Transpose', domain: '', inputs: ['XH'], outputs: ['X'], attrs: { perm: [0, 3, 1, 2] } }, ...g.nodes];
        const xh = new Float32Array(x.size);
        const xd = x.data as Float32Array;
        for (let b = 0; b < r.n; b++)
          for (let ci = 0; ci < r.c; ci++)
            for (let y = 0; y < r.h; y++) for (let xx = 0; xx < r.w; xx++) xh[((b * r.h + y) * r.w + xx) * r.c + ci] = xd[((b * r.c + ci) * r.h + y) * r.w + xx]!;
        const feed = { XH: new Tensor('float32', xh, [r.n, r.h, r.w, r.c]) };
        const fast = new Executor(g, { staticPlan: r.static });
        const plain = new Executor(gNchw, { staticPlan: r.static });
        expect(fast.kernels.get(g.nodes[1]!)?.name).toBe('f32_conv2d_direct_4x8');
        const want = plain.run({ X: x }).Y as Tensor;
        for (let i = 0; i < 2; i++) {
          const got = fast.run(feed).Y as Tensor;
          expect(got.dims).toEqual(want.dims);
          expect(new Uint32Array((got.data as Float32Array).slice().buffer)).toEqual(new Uint32Array((want.data as Float32Array).slice().buffer));
        }
        expect(fast.staticPlan !== undefined).toBe(r.static);
        expectClose(fast.run(feed).Y as Tensor, new Executor(g, { backend: 'reference' }).run(feed).Y as Tensor);
        if (!r.static) {
          // the general path's per-node record: the Transpose did not run
          fast.nodeTimes = newNodeTimes(fast.analysis.order.length);
          fast.run(feed);
          expect(fast.nodeTimes.ran[fast.analysis.order.findIndex((n) => n.op === 'Transpose')]).toBe(RAN.skipped);
        }
        fast.dispose();
        plain.dispose();
      }),
      { numRuns: 120, seed: 21 },
    );
  });

  // The same rule for any other kernel size (1×k and k×1 as audio/OCR CNNs use them, 2×2, 7×7): the generic
  // padded-plane kernel, strides (1–3, 1–2), taps in a loop, eight outputs per step and a four-output tail.
  it('f32_dwconv_plane (padded-plane depthwise of any kh×kw) agrees over kernel sizes, strides, pads and borders', () => {
    const arb = fc.record({
      n: fc.integer({ min: 1, max: 2 }),
      c: fc.integer({ min: 1, max: 5 }),
      h: fc.integer({ min: 1, max: 17 }),
      w: fc.integer({ min: 1, max: 37 }),
      kh: fc.integer({ min: 1, max: 7 }),
      kw: fc.integer({ min: 1, max: 7 }),
      sh: fc.integer({ min: 1, max: 3 }),
      sw: fc.constantFrom(1, 2),
      pads: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 4, maxLength: 4 }),
      autoPad: fc.constantFrom('NOTSET', 'NOTSET', 'SAME_UPPER', 'SAME_LOWER'),
      bias: fc.boolean(),
      act: fc.constantFrom('none', 'relu', 'clip'),
    })
      // 3×3 / 5×5 have their own kernels, 1×1 at stride 1 too
      .filter((r) => !(r.kh === r.kw && (r.kh === 3 || r.kh === 5)) && !(r.kh === 1 && r.kw === 1 && r.sh === 1 && r.sw === 1))
      .map((r) => ({ ...r, pads: r.pads.map((p, i) => Math.min(p, (i % 2 ? r.kw : r.kh) - 1)) }))
      .filter((r) => r.autoPad !== 'NOTSET' || (r.h + r.pads[0]! + r.pads[2]! >= r.kh && r.w + r.pads[1]! + r.pads[3]! >= r.kw));
    fc.assert(
      fc.property(arb, fc.integer(), (r, seed) => {
        const k: Case = { n: r.n, c: r.c, h: r.h, w: r.w, group: r.c, mg: 1, kh: r.kh, kw: r.kw, s: [r.sh, r.sw], d: [1, 1], pads: r.pads, autoPad: r.autoPad, bias: r.bias, act: r.act as Case['act'] };
        const { g, x } = build(k, seed);
        const fast = new Executor(g);
        expect(fast.kernels.get(g.nodes[0]!)?.name).toBe('f32_dwconv_plane');
        const got = fast.run({ X: x }).Y!;
        const want = new Executor(g, { backend: 'reference' }).run({ X: x }).Y!;
        fast.dispose();
        expectClose(got, want);
      }),
      { numRuns: 300, seed: 7 },
    );
  });

  // The depthwise kernels clamp with pmax / pmin (asm/f32_conv.ts dwClamp) and must give f32x4.max / min's answers
  // (IEEE maximum / minimum: max(−0, +0) = +0, NaN in → NaN out), as JS Math.max / Math.min do: ONNX Relu
  // "y = max(0, x)", Clip "y = min(max(x, min), max)". Checked against the same kernel's unclamped output (the
  // reference sums in another order, so its zeros may carry the other sign): channel 0 sums to −0 (bias −0, zero
  // inputs, negative taps), channel 1 holds a NaN, channel 2 random values on both sides of the clip bounds.
  for (const [kk, name] of [[3, 'f32_dwconv3x3'], [5, 'f32_dwconv5x5'], [2, 'f32_dwconv_plane']] as const) {
    it(`${name}: its clamp keeps max/min's signed zeros and NaN (relu, clip)`, () => {
      const c = 3, h = 9, w = 11;
      const plane = h * w;
      const xd = new Float32Array(c * plane);
      xd[plane + 4 * w + 5] = NaN;
      for (let i = 2 * plane; i < 3 * plane; i++) xd[i] = Math.sin(i * 7.3) * 3;
      const x = new Tensor('float32', xd, [1, c, h, w]);
      const runAct = (act: Case['act']): Float32Array => {
        const k: Case = { n: 1, c, h, w, group: c, mg: 1, kh: kk, kw: kk, s: [1, 1], d: [1, 1], pads: [1, 1, 1, 1], autoPad: 'NOTSET', bias: true, act };
        const { g } = build(k, 5);
        g.initializers.set('W', new Tensor('float32', Float32Array.from({ length: c * kk * kk }, (_, i) => -0.25 - (i % 5) * 0.125), [c, 1, kk, kk]));
        g.initializers.set('B', new Tensor('float32', Float32Array.of(-0, 0.5, -0.125), [c]));
        const fast = new Executor(g);
        expect(fast.kernels.get(g.nodes[0]!)?.name).toBe(name);
        const y = fast.run({ X: x }).Y!.data as Float32Array;
        fast.dispose();
        return y;
      };
      const raw = runAct('none');
      if (kk !== 2) expect(raw.filter((v) => Object.is(v, -0)).length).toBeGreaterThan(0);
      expect(raw.some(Number.isNaN)).toBe(true);
      for (const [act, f] of [['relu', (v: number) => Math.max(v, 0)], ['clip', (v: number) => Math.min(Math.max(v, -0.5), 0.75)]] as const) {
        const got = runAct(act);
        for (let i = 0; i < raw.length; i++) {
          const want = Math.fround(f(raw[i]!));
          if (Number.isNaN(want)) expect(got[i]).toBeNaN();
          else expect(Object.is(got[i], want), `${act} at ${i}: ${Object.is(got[i], -0) ? '-0' : got[i]} vs ${Object.is(want, -0) ? '-0' : want}`).toBe(true);
        }
      }
    });
  }

  // A 1×1 depthwise conv is a per-channel scale: Y[n, c, y, x] = B[c] + X[n, c, y, x] · W[c, 0, 0, 0] (the Conv rule
  // above with one tap); stride 1 and zero pads run f32_dwconv1x1, pads f32_dwconv2d, other strides f32_dwconv_plane.
  it('f32_dwconv1x1 (per-channel scale) agrees over channel counts, pixel tails and fused clamps', () => {
    fc.assert(
      fc.property(
        fc.record({ n: fc.integer({ min: 1, max: 2 }), c: fc.integer({ min: 1, max: 9 }), h: fc.integer({ min: 1, max: 7 }), w: fc.integer({ min: 1, max: 19 }), bias: fc.boolean(), act: fc.constantFrom('none', 'relu', 'clip'), autoPad: fc.constantFrom('NOTSET', 'VALID', 'SAME_UPPER') }),
        fc.integer(),
        (r, seed) => {
          const k: Case = { n: r.n, c: r.c, h: r.h, w: r.w, group: r.c, mg: 1, kh: 1, kw: 1, s: [1, 1], d: [1, 1], pads: [0, 0, 0, 0], autoPad: r.autoPad, bias: r.bias, act: r.act as Case['act'] };
          const { g, x } = build(k, seed);
          const fast = new Executor(g);
          expect(fast.kernels.get(g.nodes[0]!)?.name).toBe('f32_dwconv1x1');
          const got = fast.run({ X: x }).Y!;
          const want = new Executor(g, { backend: 'reference' }).run({ X: x }).Y!;
          fast.dispose();
          expectClose(got, want);
        },
      ),
      { numRuns: 150, seed: 1 },
    );
  });

  // ONNX PRelu: "y = slope * x for x < 0, y = x for x >= 0; slope is unidirectionally broadcastable to X". After a
  // Conv it runs in the conv's epilogue (f32_prelu_channels) when the slope varies along one axis: per channel
  // [C, 1, 1] or [1, C, 1, 1] (MediaPipe), one slope ([1] or []), or along W; the PRelu node then has no kernel.
  it('PRelu after a Conv folds into its epilogue: per-channel, scalar and per-column slopes', () => {
    fc.assert(
      fc.property(
        fc.record({ c: fc.integer({ min: 1, max: 9 }), mg: fc.integer({ min: 1, max: 3 }), depthwise: fc.boolean(), h: fc.integer({ min: 3, max: 9 }), w: fc.integer({ min: 3, max: 13 }), k: fc.constantFrom(1, 3, 5), n: fc.integer({ min: 1, max: 2 }), slope: fc.constantFrom('c11', '1c11', 'scalar', 'empty', 'w') }),
        fc.integer(),
        (r, seed) => {
          const p = r.k >> 1;
          const k: Case = { n: r.n, c: r.c, h: r.h, w: r.w, group: r.depthwise ? r.c : 1, mg: r.depthwise ? 1 : r.mg, kh: r.k, kw: r.k, s: [1, 1], d: [1, 1], pads: [p, p, p, p], autoPad: 'NOTSET', bias: true, act: 'none' };
          const { g, x } = build(k, seed);
          const m = r.depthwise ? r.c : r.mg;
          const sd = { c11: [m, 1, 1], '1c11': [1, m, 1, 1], scalar: [1], empty: [], w: [r.w] }[r.slope]!;
          const size = sd.reduce((a, d) => a * d, 1);
          g.initializers.set('slope', new Tensor('float32', Float32Array.from({ length: size }, (_, i) => 0.25 - 0.1 * i), sd));
          g.nodes[0]!.outputs = ['T'];
          g.nodes.push({ name: 'prelu', op: 'PRelu', domain: '', inputs: ['T', 'slope'], outputs: ['Y'], attrs: {} });
          const fast = new Executor(g);
          expect(fast.kernels.has(g.nodes[1]!)).toBe(false);
          const got = fast.run({ X: x }).Y!;
          const want = new Executor(g, { backend: 'reference' }).run({ X: x }).Y!;
          fast.dispose();
          expectClose(got, want);
        },
      ),
      { numRuns: 120, seed: 7 },
    );
  });

  it('im2col fast paths (8-pixel runs at stride 1 and 2) agree on wide inputs', () => {
    fc.assert(
      fc.property(
        fc.record({ c: fc.integer({ min: 1, max: 4 }), mg: fc.integer({ min: 1, max: 9 }), k: fc.integer({ min: 1, max: 4 }), s: fc.constantFrom(1, 2), h: fc.integer({ min: 4, max: 9 }), w: fc.integer({ min: 16, max: 41 }), pad: fc.integer({ min: 0, max: 1 }) }),
        fc.integer(),
        (r, seed) => {
          const k: Case = { n: 1, c: r.c, h: r.h, w: r.w, group: 1, mg: r.mg, kh: r.k, kw: r.k, s: [r.s, r.s], d: [1, 1], pads: [r.pad, r.pad, r.pad, r.pad], autoPad: 'NOTSET', bias: true, act: 'none' };
          const { g, x } = build(k, seed);
          const fast = new Executor(g);
          const got = fast.run({ X: x }).Y!.data as Float32Array;
          const want = new Executor(g, { backend: 'reference' }).run({ X: x }).Y!.data as Float32Array;
          fast.dispose();
          for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(want[i]!)));
        },
      ),
      { numRuns: 200, seed: 11 },
    );
  });
});

// Pointwise convs (1×1, stride 1, no pads) pack the input one cache block of columns at a time (f32_gemm_blockpack)
// instead of packing all of it first: the blocks hold ≤ 64 KB of panels, so K up to 300 and P up to 600 cross several
// blocks and leave partial 8-column panels. The same panels meet the same micro-kernel, so the result is f32_gemm
// over f32_gemm_pack_8 of the whole input bit for bit; and the conv agrees with ONNX Conv's reference to 1e-5.
describe('conv columns packed per cache block', () => {
  it('f32_gemm_blockpack equals f32_gemm over the fully packed input, bit for bit, across blocks and tile edges', () => {
    const mem = arena()!;
    const ex = kernels()!;
    fc.assert(
      fc.property(fc.record({ m: fc.integer({ min: 1, max: 13 }), k: fc.integer({ min: 1, max: 300 }), n: fc.integer({ min: 1, max: 600 }), bias: fc.boolean(), lo: fc.constantFrom(-Infinity, -0.5), seed: fc.integer() }), ({ m, k, n, bias, lo, seed }) => {
        let r = seed;
        const rnd = () => ((r = (Math.imul(r, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
        const a = mem.alloc(m * k * 4), b = mem.alloc(k * n * 4), rb = mem.alloc(m * 4), c1 = mem.alloc(m * n * 4), c2 = mem.alloc(m * n * 4);
        const packed = mem.alloc(((n + 7) >> 3) * (k + 1) * 32), scratch = mem.alloc(ex.f32_gemm_blockpack_scratch(k));
        try {
          for (const [p, len] of [[a, m * k], [b, k * n], [rb, m]] as const) mem.f32(p, len).set(Float32Array.from({ length: len }, rnd));
          ex.f32_gemm_pack_8(n, k, b, n, 0, packed);
          ex.f32_gemm(m, n, k, a, k, packed, c1, n, lo, Infinity, bias ? rb : 0);
          ex.f32_gemm_blockpack(m, n, k, a, k, b, n, c2, n, lo, Infinity, bias ? rb : 0, scratch);
          const want = mem.f32(c1, m * n);
          const got = mem.f32(c2, m * n);
          for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) expect([i, got[i]]).toEqual([i, want[i]]);
        } finally {
          for (const p of [a, b, rb, c1, c2, packed, scratch]) mem.release(p);
        }
      }),
      { numRuns: 150, seed: 21 },
    );
  });

  // GEMM convs pack their constant weights (A) once into 4-row strips (packConvStrips → f32_gemm_pack_a4): the strip
  // kernels make the same products in the same order per output, so f32_gemm_blockpack_pa / f32_gemm_pa (with a per-row
  // bias) are bit-identical to f32_gemm_blockpack / f32_gemm for every M ≥ 2 (row tails 1–3 included), K and N
  it('weights packed in 4-row strips: f32_gemm_blockpack_pa and f32_gemm_pa with per-row bias equal the unpacked kernels bit for bit', () => {
    const mem = arena()!;
    const ex = kernels()!;
    fc.assert(
      fc.property(fc.record({ m: fc.integer({ min: 2, max: 13 }), k: fc.integer({ min: 1, max: 300 }), n: fc.integer({ min: 1, max: 600 }), bias: fc.boolean(), lo: fc.constantFrom(-Infinity, -0.5, 0), seed: fc.integer() }), ({ m, k, n, bias, lo, seed }) => {
        let r = seed;
        const rnd = () => ((r = (Math.imul(r, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
        const a = mem.alloc(m * k * 4), b = mem.alloc(k * n * 4), rb = mem.alloc(m * 4), c1 = mem.alloc(m * n * 4), c2 = mem.alloc(m * n * 4);
        const packed = mem.alloc(((n + 7) >> 3) * (k + 1) * 32), scratch = mem.alloc(ex.f32_gemm_blockpack_scratch(k)), ap = mem.alloc(ex.f32_gemm_pa_scratch(m, k));
        const same = () => {
          const want = mem.f32(c1, m * n);
          const got = mem.f32(c2, m * n);
          for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) expect([i, got[i]]).toEqual([i, want[i]]);
        };
        try {
          for (const [p, len] of [[a, m * k], [b, k * n], [rb, m]] as const) mem.f32(p, len).set(Float32Array.from({ length: len }, rnd));
          ex.f32_gemm_pack_a4(m, k, a, k, ap);
          ex.f32_gemm_blockpack(m, n, k, a, k, b, n, c1, n, lo, Infinity, bias ? rb : 0, scratch);
          ex.f32_gemm_blockpack_pa(m, n, k, ap, b, n, c2, n, lo, Infinity, bias ? rb : 0, scratch);
          same();
          ex.f32_gemm_pack_8(n, k, b, n, 0, packed);
          ex.f32_gemm(m, n, k, a, k, packed, c1, n, lo, Infinity, bias ? rb : 0);
          ex.f32_gemm_pa(m, n, k, ap, packed, c2, n, lo, Infinity, bias ? rb : 0);
          same();
        } finally {
          for (const p of [a, b, rb, c1, c2, packed, scratch, ap]) mem.release(p);
        }
      }),
      { numRuns: 150, seed: 22 },
    );
  });

  // im2col convs pack their column panels one cache block at a time too (src/kernels/im2col.ts `block`): any block
  // size gives the panels and micro-kernel calls of packing every column first, so the same bits
  it('im2col packed per block of panels equals im2col of every column first, bit for bit (any block size, pads, strides)', () => {
    const mem = arena()!;
    const ex = kernels()!;
    fc.assert(
      fc.property(fc.record({ c: fc.integer({ min: 1, max: 6 }), m: fc.integer({ min: 1, max: 9 }), h: fc.integer({ min: 3, max: 19 }), w: fc.integer({ min: 3, max: 23 }), k: fc.constantFrom(2, 3, 5), s: fc.constantFrom(1, 2), pad: fc.integer({ min: 0, max: 2 }), per: fc.integer({ min: 1, max: 7 }), seed: fc.integer() }), ({ c, m, h, w, k, s, pad, per, seed }) => {
        fc.pre(h + 2 * pad >= k && w + 2 * pad >= k);
        let r = seed;
        const rnd = () => ((r = (Math.imul(r, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
        const oh = Math.floor((h + 2 * pad - k) / s) + 1;
        const ow = Math.floor((w + 2 * pad - k) / s) + 1;
        const p = oh * ow;
        const kk = c * k * k;
        const panel = (kk + 1) * 32;
        const xp = mem.alloc(c * h * w * 4), wp = mem.alloc(m * kk * 4), rb = mem.alloc(m * 4), c1 = mem.alloc(m * p * 4), c2 = mem.alloc(m * p * 4);
        const full = mem.alloc(((p + 7) >> 3) * panel), blk = mem.alloc(per * panel);
        try {
          for (const [q, len] of [[xp, c * h * w], [wp, m * kk], [rb, m]] as const) mem.f32(q, len).set(Float32Array.from({ length: len }, rnd));
          im2colPack(mem, ex, xp, c, h, w, k, k, s, s, 1, 1, pad, pad, oh, ow, full);
          ex.f32_gemm(m, p, kk, wp, kk, full, c1, p, -Infinity, Infinity, rb);
          im2colPack(mem, ex, xp, c, h, w, k, k, s, s, 1, 1, pad, pad, oh, ow, blk, undefined, { panels: per, gemm: (q0, q1) => ex.f32_gemm(m, Math.min(p, q1 * 8) - q0 * 8, kk, wp, kk, blk, c2 + q0 * 32, p, -Infinity, Infinity, rb) });
          const want = mem.f32(c1, m * p);
          const got = mem.f32(c2, m * p);
          for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) expect([i, got[i]]).toEqual([i, want[i]]);
        } finally {
          for (const q of [xp, wp, rb, c1, c2, full, blk]) mem.release(q);
        }
      }),
      { numRuns: 150, seed: 8 },
    );
  });

  it('im2col convs whose columns span several cache blocks agree with the reference (1e-5)', () => {
    fc.assert(
      fc.property(fc.record({ c: fc.integer({ min: 8, max: 14 }), mg: fc.integer({ min: 1, max: 6 }), h: fc.integer({ min: 6, max: 22 }), w: fc.integer({ min: 6, max: 26 }), k: fc.constantFrom(3, 5), s: fc.constantFrom(1, 2), pad: fc.integer({ min: 0, max: 2 }) }), fc.integer(), (r, seed) => {
        const k: Case = { n: 1, c: r.c, h: r.h, w: r.w, group: 1, mg: r.mg, kh: r.k, kw: r.k, s: [r.s, r.s], d: [1, 1], pads: [r.pad, r.pad, r.pad, r.pad], autoPad: 'NOTSET', bias: true, act: 'relu' };
        const { g, x } = build(k, seed);
        const fast = new Executor(g);
        const got = fast.run({ X: x }).Y!;
        const want = new Executor(g, { backend: 'reference' }).run({ X: x }).Y!;
        fast.dispose();
        expectClose(got, want);
      }),
      { numRuns: 30, seed: 6 },
    );
  });

  it('wide pointwise convs agree with the reference (1e-5)', () => {
    fc.assert(
      fc.property(fc.record({ c: fc.integer({ min: 1, max: 300 }), mg: fc.integer({ min: 1, max: 9 }), h: fc.integer({ min: 1, max: 20 }), w: fc.integer({ min: 1, max: 30 }), act: fc.constantFrom('none' as const, 'relu' as const) }), fc.integer(), (r, seed) => {
        const k: Case = { n: 1, c: r.c, h: r.h, w: r.w, group: 1, mg: r.mg, kh: 1, kw: 1, s: [1, 1], d: [1, 1], pads: [0, 0, 0, 0], autoPad: 'NOTSET', bias: true, act: r.act };
        const { g, x } = build(k, seed);
        const fast = new Executor(g);
        expect([...fast.kernels.values()][0]?.name).toBe('f32_conv2d_gemm_4x8');
        const got = fast.run({ X: x }).Y!;
        const want = new Executor(g, { backend: 'reference' }).run({ X: x }).Y!;
        fast.dispose();
        expectClose(got, want);
      }),
      { numRuns: 40, seed: 5 },
    );
  });
});

// ONNX Conv 1-D: X (N, C, W), W (M, C/group, k); "pads format should be as follow [x1_begin, x2_begin...x1_end,
// x2_end,...]" — here [begin, end], asymmetric allowed. The kernel runs it as the 2-D conv with H = 1.
describe('WASM Conv 1-D (as 2-D with H = 1) vs the TS reference', () => {
  it('agrees to 1e-5 over groups, depthwise, strides, dilations, asymmetric pads, auto_pad, no bias, fused activations', () => {
    let kernelRuns = 0;
    fc.assert(
      fc.property(
        fc.record({
          n: fc.integer({ min: 1, max: 2 }),
          group: fc.constantFrom(1, 1, 2, 3),
          cg: fc.integer({ min: 1, max: 5 }),
          mg: fc.integer({ min: 1, max: 9 }),
          depthwise: fc.boolean(),
          k: fc.integer({ min: 1, max: 7 }),
          s: fc.integer({ min: 1, max: 3 }),
          d: fc.integer({ min: 1, max: 3 }),
          pads: fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 })),
          autoPad: fc.constantFrom('NOTSET', 'NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID'),
          extra: fc.integer({ min: 0, max: 21 }),
          bias: fc.boolean(),
          act: fc.constantFrom('none', 'Relu', 'HardSigmoid', 'LeakyRelu'),
        }),
        fc.integer(),
        (r, seed) => {
          let q = seed;
          const rnd = () => ((q = (Math.imul(q, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
          const group = r.depthwise ? r.cg * r.group : r.group;
          const c = r.depthwise ? group : r.cg * r.group;
          const cg = c / group;
          const m = (r.depthwise ? 1 : r.mg) * group;
          const w = (r.k - 1) * r.d + 1 + r.extra;
          const g = new Graph();
          g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [r.n, c, w] } }];
          g.initializers.set('W', new Tensor('float32', Float32Array.from({ length: m * cg * r.k }, rnd), [m, cg, r.k]));
          if (r.bias) g.initializers.set('B', new Tensor('float32', Float32Array.from({ length: m }, rnd), [m]));
          const attrs: Record<string, number | number[] | string> = { group, strides: [r.s], dilations: [r.d], kernel_shape: [r.k] };
          if (r.autoPad === 'NOTSET') attrs.pads = [...r.pads];
          else attrs.auto_pad = r.autoPad;
          g.nodes.push({ name: 'conv', op: 'Conv', domain: '', inputs: ['X', 'W', r.bias ? 'B' : ''], outputs: [r.act === 'none' ? 'Y' : 'T'], attrs });
          if (r.act !== 'none') g.nodes.push({ name: 'act', op: r.act, domain: '', inputs: ['T'], outputs: ['Y'], attrs: {} });
          g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
          const x = new Tensor('float32', Float32Array.from({ length: r.n * c * w }, rnd), [r.n, c, w]);
          const fast = new Executor(g);
          expect(fast.kernels.has(g.nodes[0]!)).toBe(true);
          if (r.act !== 'none') expect(fast.fusedInto.has(g.nodes[1]!)).toBe(true);
          kernelRuns++;
          const got = fast.run({ X: x }).Y!;
          const want = new Executor(g, { backend: 'reference' }).run({ X: x }).Y!;
          fast.dispose();
          expectClose(got, want);
        },
      ),
      { numRuns: 250, seed: 17 },
    );
    expect(kernelRuns).toBe(250);
  });

  it('3-D convs stay on the reference with a reason', () => {
    const g = new Graph();
    g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [1, 1, 3, 3, 3] } }];
    g.initializers.set('W', new Tensor('float32', new Float32Array(8).fill(0.5), [1, 1, 2, 2, 2]));
    g.nodes = [{ name: 'conv', op: 'Conv', domain: '', inputs: ['X', 'W'], outputs: ['Y'], attrs: {} }];
    g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
    const ex = new Executor(g);
    expect(ex.kernels.has(g.nodes[0]!)).toBe(false);
    expect(ex.fallbacks.get(g.nodes[0]!)).toContain('3-D runs on the reference');
  });
});

// ONNX Add (same shapes, no broadcast): Y = A + B elementwise; a Relu after it is max(0, ·) of the sum. A residual Add
// folded into a dense conv (fuseResidual: the conv stores unclamped, then one clamp(y + r) pass) must give the graph's
// values, on every conv path (pointwise, im2col, Winograd) — and must not fold when the residual is computed after
// the conv, or when a clamp/activation already folded into the conv has to run before the add.
describe('residual Add folded into the dense Conv', () => {
  it('Conv + Add(·, r) (+ Relu) equals the unfused graph; not folded for a late residual or a clamp/step before the add', () => {
    fc.assert(
      fc.property(
        fc.record({
          c: fc.integer({ min: 1, max: 9 }),
          m: fc.integer({ min: 2, max: 11 }),
          k: fc.constantFrom(1, 3),
          hw: fc.tuple(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 13 })),
          swap: fc.boolean(),
          where: fc.constantFrom('input', 'early', 'late', 'clamped', 'stepped'),
          relu: fc.boolean(),
          seed: fc.integer(),
        }),
        (t) => {
          const [h, w] = t.hw;
          let r = t.seed;
          const rnd = () => ((r = (Math.imul(r, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
          const g = new Graph();
          const shape = [1, t.m, h, w];
          g.inputs = [
            { name: 'X', type: { dtype: 'float32', shape: [1, t.c, h, w] } },
            { name: t.where === 'input' ? 'R' : 'Z', type: { dtype: 'float32', shape } },
          ];
          g.initializers.set('W', new Tensor('float32', Float32Array.from({ length: t.m * t.c * t.k * t.k }, rnd), [t.m, t.c, t.k, t.k]));
          g.initializers.set('B', new Tensor('float32', Float32Array.from({ length: t.m }, rnd), [t.m]));
          const p = (t.k - 1) / 2;
          const pre = t.where === 'clamped' || t.where === 'stepped';
          const conv = { name: 'conv', op: 'Conv', domain: '', inputs: ['X', 'W', 'B'], outputs: [pre ? 'C0' : 'C'], attrs: { kernel_shape: [t.k, t.k], pads: [p, p, p, p] } };
          const neg = { name: 'neg', op: 'Neg', domain: '', inputs: ['Z'], outputs: ['R'], attrs: {} };
          if (t.where !== 'input' && t.where !== 'late') g.nodes.push(neg);
          g.nodes.push(conv);
          if (pre) g.nodes.push({ name: 'act0', op: t.where === 'clamped' ? 'Relu' : 'HardSwish', domain: '', inputs: ['C0'], outputs: ['C'], attrs: {} });
          if (t.where === 'late') g.nodes.push(neg);
          g.nodes.push({ name: 'add', op: 'Add', domain: '', inputs: t.swap ? ['R', 'C'] : ['C', 'R'], outputs: [t.relu ? 'S' : 'Y'], attrs: {} });
          if (t.relu) g.nodes.push({ name: 'relu', op: 'Relu', domain: '', inputs: ['S'], outputs: ['Y'], attrs: {} });
          g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
          const mem = arena()!;
          const before = mem.inUse;
          const fast = new Executor(g);
          const ref = new Executor(g, { backend: 'reference' });
          const addNode = fast.graph.nodes.find((n) => n.op === 'Add')!;
          expect(fast.fusedInto.has(addNode)).toBe(t.where === 'input' || t.where === 'early');
          const feeds = {
            X: new Tensor('float32', Float32Array.from({ length: t.c * h * w }, rnd), [1, t.c, h, w]),
            [t.where === 'input' ? 'R' : 'Z']: new Tensor('float32', Float32Array.from({ length: t.m * h * w }, rnd), shape),
          };
          const want = ref.run(feeds).Y as Tensor;
          expectClose(fast.run(feeds).Y as Tensor, want);
          expectClose(fast.run(feeds).Y as Tensor, want);
          fast.dispose();
          expect(mem.inUse).toBe(before);
        },
      ),
      { numRuns: 150, seed: 31 },
    );
  });

  // ONNX Add then PRelu ("f(x) = slope * x for x < 0, f(x) = x for x >= 0", slope [M, 1, 1] broadcasting per channel)
  // then a depthwise 1×1 Conv (Y[m] = B[m] + W[m]·X[m]), MediaPipe's BlazeBlock tails: the GEMM tiles
  // (f32_gemm_pa_epi, f32_gemm_blockpack_pa_epi) add the residual, clamp and apply the channel steps while storing, the
  // direct conv (≤ 4 input channels, no residual) the steps — the same IEEE operations per element as the separate
  // passes (fuseClamps off), so bit-identical to them, over tile edges (m, pixels not multiples of 4 / 8), 1×1
  // (blockpack), 3×3 (im2col) and the direct kernel.
  it('Conv + Add(·, r) (+ Relu) + PRelu (+ depthwise 1×1) applied in the GEMM / direct store is bit-identical to the separate passes', () => {
    fc.assert(
      fc.property(
        fc.record({
          n: fc.integer({ min: 1, max: 2 }),
          c: fc.integer({ min: 1, max: 9 }),
          m: fc.integer({ min: 2, max: 13 }),
          k: fc.constantFrom(1, 3),
          hw: fc.tuple(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 13 })),
          residual: fc.boolean(),
          relu: fc.boolean(),
          after: fc.boolean(),
          prelu: fc.constantFrom(true, true, false),
          affine: fc.boolean(),
          seed: fc.integer(),
        }),
        (t) => {
          const [h, w] = t.hw;
          let r = t.seed;
          const rnd = () => ((r = (Math.imul(r, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
          const g = new Graph();
          const shape = [t.n, t.m, h, w];
          g.inputs = [
            { name: 'X', type: { dtype: 'float32', shape: [t.n, t.c, h, w] } },
            { name: 'R', type: { dtype: 'float32', shape } },
          ];
          g.initializers.set('W', new Tensor('float32', Float32Array.from({ length: t.m * t.c * t.k * t.k }, rnd), [t.m, t.c, t.k, t.k]));
          g.initializers.set('B', new Tensor('float32', Float32Array.from({ length: t.m }, rnd), [t.m]));
          g.initializers.set('S', new Tensor('float32', Float32Array.from({ length: t.m }, rnd), [t.m, 1, 1]));
          g.initializers.set('two', new Tensor('float32', Float32Array.of(2), []));
          g.initializers.set('DW', new Tensor('float32', Float32Array.from({ length: t.m }, rnd), [t.m, 1, 1, 1]));
          g.initializers.set('DB', new Tensor('float32', Float32Array.from({ length: t.m }, rnd), [t.m]));
          const p = (t.k - 1) / 2;
          g.nodes.push({ name: 'conv', op: 'Conv', domain: '', inputs: ['X', 'W', 'B'], outputs: ['C'], attrs: { kernel_shape: [t.k, t.k], pads: [p, p, p, p] } });
          let y = 'C';
          const push = (op: string, inputs: string[]) => {
            const o = `${op}_${g.nodes.length}`;
            g.nodes.push({ name: o, op, domain: '', inputs: [y, ...inputs], outputs: [o], attrs: {} });
            y = o;
          };
          if (t.residual) push('Add', ['R']);
          if (t.relu) push('Relu', []);
          if (t.prelu || !t.affine) push('PRelu', ['S']);
          if (t.affine) {
            push('Conv', ['DW', 'DB']);
            Object.assign(g.nodes[g.nodes.length - 1]!.attrs, { kernel_shape: [1, 1], group: t.m });
          }
          if (t.after) push('Mul', ['two']);
          g.nodes[g.nodes.length - 1]!.outputs = ['Y'];
          g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
          const fast = new Executor(g);
          const sep = new Executor(g, { fuseClamps: false });
          expect(fast.graph.nodes.filter((n) => !fast.fusedInto.has(n)).map((n) => n.op)).toEqual(['Conv']);
          const feeds = {
            X: new Tensor('float32', Float32Array.from({ length: t.n * t.c * h * w }, rnd), [t.n, t.c, h, w]),
            R: new Tensor('float32', Float32Array.from({ length: t.n * t.m * h * w }, rnd), shape),
          };
          const got = fast.run(feeds).Y as Tensor;
          const want = sep.run(feeds).Y as Tensor;
          expect(Array.from(got.data as Float32Array)).toEqual(Array.from(want.data as Float32Array));
          expectClose(got, new Executor(g, { backend: 'reference' }).run(feeds).Y as Tensor);
          fast.dispose();
          sep.dispose();
        },
      ),
      { numRuns: 150, seed: 32 },
    );
  });
});

// ONNX Pad, mode constant: "pads with a given constant value as specified by constant_value" (default 0). A zero Pad
// of only the end of one axis with every dim before it 1 (BlazeFace's channel pad of a residual to the conv's wider
// output) lays out as its input followed by zeros, so Add(conv, Pad(x)) folds into the conv as a residual over the
// first x.size values and the Pad does not run — unless its output is fetched. Pads elsewhere, a non-zero value, a
// batch of 2 or an x computed after the conv keep the Pad (and the Add, if the residual is then too late) as nodes.
describe('zero channel Pad of a residual folded into the dense Conv', () => {
  it('Conv + Add(·, Pad(x)) (+ Relu) equals the unfused graph; folded only for a zero tail pad of a leading-1 axis', () => {
    fc.assert(
      fc.property(
        fc.record({
          c: fc.integer({ min: 1, max: 6 }),
          m: fc.integer({ min: 2, max: 11 }),
          e: fc.integer({ min: 1, max: 5 }),
          k: fc.constantFrom(1, 3),
          hw: fc.tuple(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 10 })),
          n: fc.constantFrom(1, 1, 1, 2),
          swap: fc.boolean(),
          where: fc.constantFrom('input', 'early', 'padLate', 'late'),
          pad: fc.constantFrom('tail', 'tail', 'head', 'width'),
          value: fc.constantFrom('absent', 'zero', 'one'),
          relu: fc.boolean(),
          fetchPad: fc.boolean(),
          seed: fc.integer(),
        }),
        (t) => {
          const [h, w] = t.hw;
          const e = Math.min(t.e, t.pad === 'width' ? w - 1 : t.m - 1); // x not empty (an empty x's Pad is a constant)
          if (e < 1) return;
          let r = t.seed;
          const rnd = () => ((r = (Math.imul(r, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
          const g = new Graph();
          const shape = [t.n, t.m, h, w];
          const xShape = t.pad === 'width' ? [t.n, t.m, h, w - e] : [t.n, t.m - e, h, w];
          const pads = t.pad === 'width' ? [0, 0, 0, 0, 0, 0, 0, e] : t.pad === 'head' ? [0, e, 0, 0, 0, 0, 0, 0] : [0, 0, 0, 0, 0, e, 0, 0];
          g.inputs = [
            { name: 'X', type: { dtype: 'float32', shape: [t.n, t.c, h, w] } },
            { name: t.where === 'input' ? 'R0' : 'Z', type: { dtype: 'float32', shape: xShape } },
          ];
          g.initializers.set('W', new Tensor('float32', Float32Array.from({ length: t.m * t.c * t.k * t.k }, rnd), [t.m, t.c, t.k, t.k]));
          g.initializers.set('B', new Tensor('float32', Float32Array.from({ length: t.m }, rnd), [t.m]));
          g.initializers.set('pads', new Tensor('int64', BigInt64Array.from(pads, BigInt), [8]));
          if (t.value !== 'absent') g.initializers.set('v', new Tensor('float32', Float32Array.of(t.value === 'one' ? 1 : 0), []));
          const p = (t.k - 1) / 2;
          const conv = { name: 'conv', op: 'Conv', domain: '', inputs: ['X', 'W', 'B'], outputs: ['C'], attrs: { kernel_shape: [t.k, t.k], pads: [p, p, p, p] } };
          const neg = { name: 'neg', op: 'Neg', domain: '', inputs: ['Z'], outputs: ['R0'], attrs: {} };
          const pad = { name: 'pad', op: 'Pad', domain: '', inputs: t.value === 'absent' ? ['R0', 'pads'] : ['R0', 'pads', 'v'], outputs: ['P'], attrs: { mode: 'constant' } };
          if (t.where === 'early') g.nodes.push(neg, pad, conv);
          else if (t.where === 'padLate') g.nodes.push(neg, conv, pad);
          else if (t.where === 'late') g.nodes.push(conv, neg, pad);
          else g.nodes.push(pad, conv);
          g.nodes.push({ name: 'add', op: 'Add', domain: '', inputs: t.swap ? ['P', 'C'] : ['C', 'P'], outputs: [t.relu ? 'S' : 'Y'], attrs: {} });
          if (t.relu) g.nodes.push({ name: 'relu', op: 'Relu', domain: '', inputs: ['S'], outputs: ['Y'], attrs: {} });
          g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
          const mem = arena()!;
          const before = mem.inUse;
          const fast = new Executor(g);
          const ref = new Executor(g, { backend: 'reference' });
          const addNode = fast.graph.nodes.find((n) => n.op === 'Add')!;
          // the Pad folds away when x is computed before the conv in the plan's order; else the plain residual fold
          // takes the Pad's output when that is computed before the conv
          const at = (op: string) => fast.analysis.order.findIndex((n) => n.op === op);
          const padFolds = t.n === 1 && t.pad === 'tail' && t.value !== 'one' && at('Neg') < at('Conv');
          expect(fast.fusedInto.has(addNode)).toBe(padFolds || at('Pad') < at('Conv'));
          fast.nodeTimes = newNodeTimes(fast.analysis.order.length);
          const feeds = {
            X: new Tensor('float32', Float32Array.from({ length: t.n * t.c * h * w }, rnd), [t.n, t.c, h, w]),
            [t.where === 'input' ? 'R0' : 'Z']: new Tensor('float32', Float32Array.from({ length: xShape.reduce((a, d) => a * d, 1) }, rnd), xShape),
          };
          const fetch = t.fetchPad ? ['Y', 'P'] : ['Y'];
          const want = ref.run(feeds, fetch);
          for (let i = 0; i < 2; i++) {
            const got = fast.run(feeds, fetch);
            expectClose(got.Y as Tensor, want.Y as Tensor);
            if (t.fetchPad) expectClose(got.P as Tensor, want.P as Tensor);
          }
          const padAt = fast.analysis.order.findIndex((n) => n.op === 'Pad');
          expect(fast.nodeTimes.ran[padAt] === RAN.skipped).toBe(padFolds && !t.fetchPad);
          fast.dispose();
          expect(mem.inUse).toBe(before);
        },
      ),
      { numRuns: 120, seed: 47 },
    );
  });
});

// ONNX Conv with group = C and a [C,1,1,1] weight is "Y[n, c] = B[c] + X[n, c]·W[c]" per pixel; inference
// BatchNormalization is "Y = (X − input_mean) / sqrt(input_var + epsilon) · scale + B". Either, after a conv's (or an
// Add's) folded activation, is a per-channel affine step the producer's epilogue runs in place (MediaPipe BlazeBlocks:
// Conv → PRelu → 1×1 depthwise "batch norm"). Values must equal the unfused graph's; a producer output read twice, or
// a padded / strided 1×1, keeps the node.
describe('per-channel affine (depthwise 1×1 Conv, BatchNormalization) folded into the producer epilogue', () => {
  it('equals the unfused graph; folded only for a single-use producer output and a plain 1×1', () => {
    fc.assert(
      fc.property(
        fc.record({
          c: fc.integer({ min: 1, max: 7 }),
          m: fc.integer({ min: 1, max: 9 }),
          hw: fc.tuple(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 10 })),
          n: fc.constantFrom(1, 1, 2),
          producer: fc.constantFrom('conv', 'add'),
          act: fc.constantFrom('none', 'relu', 'prelu'),
          affine: fc.constantFrom('dw', 'dwNoBias', 'bn', 'dwPadded', 'dwStrided'),
          reread: fc.boolean(),
          after: fc.boolean(),
          seed: fc.integer(),
        }),
        (t) => {
          const [h, w] = t.hw;
          let r = t.seed;
          const rnd = () => ((r = (Math.imul(r, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
          const f32 = (len: number, dims: number[], pos = false) => new Tensor('float32', Float32Array.from({ length: len }, () => (pos ? 0.1 + Math.abs(rnd()) : rnd())), dims);
          const m = t.producer === 'add' ? t.c : t.m;
          const g = new Graph();
          g.inputs = [
            { name: 'X', type: { dtype: 'float32', shape: [t.n, t.c, h, w] } },
            { name: 'X2', type: { dtype: 'float32', shape: [t.n, t.c, h, w] } },
          ];
          g.initializers.set('W', f32(t.m * t.c, [t.m, t.c, 1, 1]));
          g.initializers.set('B', f32(t.m, [t.m]));
          if (t.producer === 'conv') g.nodes.push({ name: 'conv', op: 'Conv', domain: '', inputs: ['X', 'W', 'B'], outputs: ['P0'], attrs: { kernel_shape: [1, 1] } });
          else g.nodes.push({ name: 'add', op: 'Add', domain: '', inputs: ['X', 'X2'], outputs: ['P0'], attrs: {} });
          if (t.act === 'relu') g.nodes.push({ name: 'act', op: 'Relu', domain: '', inputs: ['P0'], outputs: ['P'], attrs: {} });
          if (t.act === 'prelu') {
            g.initializers.set('slope', f32(m, [m, 1, 1]));
            g.nodes.push({ name: 'act', op: 'PRelu', domain: '', inputs: ['P0', 'slope'], outputs: ['P'], attrs: {} });
          }
          const p = t.act === 'none' ? 'P0' : 'P';
          if (t.affine === 'bn') {
            g.initializers.set('s', f32(m, [m]));
            g.initializers.set('b', f32(m, [m]));
            g.initializers.set('mean', f32(m, [m]));
            g.initializers.set('var', f32(m, [m], true));
            g.nodes.push({ name: 'aff', op: 'BatchNormalization', domain: '', inputs: [p, 's', 'b', 'mean', 'var'], outputs: ['A'], attrs: { epsilon: 1e-3 } });
          } else {
            g.initializers.set('Wd', f32(m, [m, 1, 1, 1]));
            g.initializers.set('Bd', f32(m, [m]));
            const attrs: Record<string, unknown> = { group: m, kernel_shape: [1, 1] };
            if (t.affine === 'dwPadded') attrs.pads = [0, 1, 0, 0];
            if (t.affine === 'dwStrided') attrs.strides = [2, 1];
            g.nodes.push({ name: 'aff', op: 'Conv', domain: '', inputs: t.affine === 'dwNoBias' ? [p, 'Wd'] : [p, 'Wd', 'Bd'], outputs: ['A'], attrs: attrs as never });
          }
          // a Relu after the affine folds too; a second reader of the producer's output blocks the fold
          if (t.after) g.nodes.push({ name: 'relu2', op: 'Relu', domain: '', inputs: ['A'], outputs: ['Y'], attrs: {} });
          g.outputs = [{ name: t.after ? 'Y' : 'A', type: { dtype: 'float32' } }];
          if (t.reread) {
            g.nodes.push({ name: 'neg', op: 'Neg', domain: '', inputs: [p], outputs: ['Q'], attrs: {} });
            g.outputs.push({ name: 'Q', type: { dtype: 'float32' } });
          }
          const mem = arena()!;
          const before = mem.inUse;
          const fast = new Executor(g);
          const ref = new Executor(g, { backend: 'reference' });
          const aff = fast.graph.nodes.find((x) => x.name === 'aff');
          const plain = t.affine !== 'dwPadded' && t.affine !== 'dwStrided';
          // right after a conv (no activation between) a batch norm folds into its weights before planning instead
          if (!aff) expect(t.act === 'none' && t.producer === 'conv').toBe(true);
          else expect(fast.fusedInto.has(aff)).toBe(plain && !t.reread);
          const feeds = { X: f32(t.n * t.c * h * w, [t.n, t.c, h, w]), X2: f32(t.n * t.c * h * w, [t.n, t.c, h, w]) };
          const want = ref.run(feeds);
          for (let i = 0; i < 2; i++) {
            const got = fast.run(feeds);
            for (const k of Object.keys(want)) expectClose(got[k] as Tensor, want[k] as Tensor);
          }
          fast.dispose();
          expect(mem.inUse).toBe(before);
        },
      ),
      { numRuns: 150, seed: 53 },
    );
  });
});
