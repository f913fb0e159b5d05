// fast-check property: for random DAGs (unary, binary and variadic ops, skip connections, long edges,
// several graph inputs/outputs, initializers) and random cut sets, composing the parts equals the original,
// bit for bit. Invalid cut sets must fail with a SplitError that says why.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Graph, type Node } from '../../src/ir/graph.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { runParts } from '../../src/split/compose.js';
import { SplitError } from '../../src/split/errors.js';
import { split } from '../../src/split/split.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { expectSameOutputs } from './helpers.js';

const UNARY = ['Relu', 'Neg', 'Tanh', 'Abs', 'Identity', 'Sigmoid'] as const;
const BINARY = ['Add', 'Mul', 'Sub', 'Max'] as const;
const VARIADIC = ['Sum', 'Max', 'Min', 'Mean'] as const;
const SHAPE = [2, 3];

interface Spec {
  inputs: number;
  consts: number;
  nodes: { kind: 0 | 1 | 2; op: number; ins: number[] }[];
  outs: number[];
}

const specArb: fc.Arbitrary<Spec> = fc.record({
  inputs: fc.integer({ min: 1, max: 3 }),
  consts: fc.integer({ min: 0, max: 2 }),
  nodes: fc.array(
    fc.record({
      kind: fc.constantFrom(0 as const, 1 as const, 2 as const),
      op: fc.nat(),
      ins: fc.array(fc.nat(), { minLength: 3, maxLength: 4 }),
    }),
    { minLength: 1, maxLength: 14 },
  ),
  outs: fc.array(fc.nat(), { minLength: 0, maxLength: 3 }),
});

function build(spec: Spec): { g: Graph; feeds: Record<string, Tensor>; produced: string[] } {
  const g = new Graph();
  g.name = 'random';
  const vals: string[] = [];
  const feeds: Record<string, Tensor> = {};
  for (let i = 0; i < spec.inputs; i++) {
    g.inputs.push({ name: `in${i}`, type: { dtype: 'float32', shape: SHAPE } });
    vals.push(`in${i}`);
    feeds[`in${i}`] = new Tensor('float32', new Float32Array(6).map((_, k) => Math.sin(7 * i + k) * 3), SHAPE);
  }
  for (let i = 0; i < spec.consts; i++) {
    g.initializers.set(`c${i}`, new Tensor('float32', new Float32Array(6).map((_, k) => Math.cos(3 * i + k)), SHAPE));
    vals.push(`c${i}`);
  }
  const produced: string[] = [];
  spec.nodes.forEach((n, k) => {
    // prefer recent values (chains) but allow long edges
    const pick = (x: number) => vals[vals.length - 1 - (x % vals.length)]!;
    let op: string;
    let ins: string[];
    if (n.kind === 0) {
      op = UNARY[n.op % UNARY.length]!;
      ins = [pick(n.ins[0]!)];
    } else if (n.kind === 1) {
      op = BINARY[n.op % BINARY.length]!;
      ins = [pick(n.ins[0]!), pick(n.ins[1]!)];
    } else {
      op = VARIADIC[n.op % VARIADIC.length]!;
      ins = n.ins.slice(0, 2 + (n.op % 3)).map(pick);
    }
    const out = `v${k}`;
    g.nodes.push({ name: `n${k}_${op}`, op, domain: '', inputs: ins, outputs: [out], attrs: {} } satisfies Node);
    vals.push(out);
    produced.push(out);
  });
  const outs = new Set<string>([produced[produced.length - 1]!, ...spec.outs.map((o) => produced[o % produced.length]!)]);
  g.outputs = [...outs].map((name) => ({ name, type: { dtype: 'float32', shape: SHAPE } }));
  return { g, feeds, produced };
}

describe('split property: composition equals the original on random DAGs', () => {
  it('random tensor cut sets (at)', () => {
    fc.assert(
      fc.property(specArb, fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), (spec, cutIdx) => {
        const { g, feeds, produced } = build(spec);
        const want = InferenceSession.fromGraph(g).runSync(feeds);
        const at = [...new Set(cutIdx.map((c) => produced[c % produced.length]!))];
        let r;
        try {
          r = split(g, { at });
        } catch (e) {
          expect(e).toBeInstanceOf(SplitError);
          expect((e as Error).message).toMatch(/does not separate/);
          return;
        }
        expect(r.parts).toHaveLength(at.length + 1);
        expectSameOutputs(runParts(r.parts, feeds), want, `at ${at.join(',')}`);
      }),
      { numRuns: 300 },
    );
  });

  it('random K, objective, device speeds, links and keepLocal', () => {
    fc.assert(
      fc.property(
        specArb,
        fc.nat(),
        fc.constantFrom('balance' as const, 'min-transfer' as const, 'latency' as const),
        fc.array(fc.double({ min: 0.1, max: 4, noNaN: true }), { minLength: 0, maxLength: 4 }),
        fc.option(fc.double({ min: 0.001, max: 1000, noNaN: true })),
        fc.nat({ max: 3 }),
        (spec, k, objective, speeds, mbps, keepLocal) => {
          const { g, feeds } = build(spec);
          const K = 1 + (k % g.nodes.length);
          const want = InferenceSession.fromGraph(g).runSync(feeds);
          let r;
          try {
            r = split(g, { parts: K, objective, deviceSpeed: speeds.slice(0, K), ...(mbps !== null ? { linkMbps: mbps } : {}), keepLocal });
          } catch (e) {
            // only keepLocal can make a K-way split impossible
            expect(e).toBeInstanceOf(SplitError);
            expect((e as Error).message).toMatch(/keepLocal/);
            expect(keepLocal).toBeGreaterThan(0);
            return;
          }
          expect(r.parts).toHaveLength(K);
          expect(r.info.every((p) => p.nodes > 0)).toBe(true);
          for (let i = 0; i + 1 < K; i++) expect(r.parts[i]!.outputs.map((o) => o.name)).toEqual(r.parts[i + 1]!.inputs.map((o) => o.name));
          expectSameOutputs(runParts(r.parts, feeds), want, `K=${K} ${objective}`);
        },
      ),
      { numRuns: 300 },
    );
  });
});
