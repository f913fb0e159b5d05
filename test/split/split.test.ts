import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readOnnx } from '../../src/formats/onnx/reader.js';
import { readFileSync } from 'node:fs';
import { EdgeqError } from '../../src/errors.js';
import { Graph, type Node } from '../../src/ir/graph.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { runParts } from '../../src/split/compose.js';
import { SplitError } from '../../src/split/errors.js';
import { measuredSplit, profileNodes } from '../../src/split/profile.js';
import { split } from '../../src/split/split.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { dataPath, hasData } from '../helpers/data.js';
import { expectSameOutputs, loadCase, ortCheckParts } from './helpers.js';

const f32 = (dims: number[]) => ({ dtype: 'float32' as const, shape: dims });
let uid = 0;
function node(op: string, inputs: string[], outputs: string[], attrs: Node['attrs'] = {}): Node {
  return { name: `${op}_${uid++}`, op, domain: '', inputs, outputs, attrs };
}

/** x → Relu a → Neg b → Add(b, x) c → Tanh d (a skip connection from x and a long edge a→d2) */
function residual(): Graph {
  const g = new Graph();
  g.name = 'residual';
  g.inputs = [{ name: 'x', type: f32(['N', 4]) }];
  g.initializers.set('w', new Tensor('float32', new Float32Array([0.5, -1, 2, 0.25]), [4]));
  g.nodes = [
    node('Relu', ['x'], ['a']),
    node('Neg', ['a'], ['b']),
    node('Mul', ['b', 'w'], ['bw']),
    node('Add', ['bw', 'x'], ['c']),
    node('Tanh', ['c'], ['d']),
    node('Sub', ['d', 'a'], ['y']),
  ];
  g.outputs = [
    { name: 'y', type: f32(['N', 4]) },
    { name: 'b', type: f32(['N', 4]) },
  ];
  return g;
}

const feedsX = () => ({ x: new Tensor('float32', new Float32Array([1, -2, 3, -4, 0.5, 0.25, -0.125, 8]), [2, 4]) });

describe('split: small graphs', () => {
  it('every K and objective composes bit-identically, with live tensors crossing', () => {
    const g = residual();
    const want = InferenceSession.fromGraph(g).runSync(feedsX());
    for (let K = 1; K <= g.nodes.length; K++)
      for (const objective of ['balance', 'min-transfer', 'latency'] as const) {
        const r = split(g, { parts: K, objective, linkMbps: 1, deviceSpeed: Array.from({ length: K }, (_, i) => 1 / (i + 1)) });
        expect(r.parts).toHaveLength(K);
        expect(r.info.reduce((s, p) => s + p.nodes, 0)).toBe(g.nodes.length);
        for (let i = 0; i + 1 < K; i++) expect(r.parts[i]!.outputs.map((o) => o.name)).toEqual(r.parts[i + 1]!.inputs.map((o) => o.name));
        expectSameOutputs(runParts(r.parts, feedsX()), want, `K=${K} ${objective}`);
      }
  });

  it('a cut inside the residual block carries the skip tensor and the long edge', () => {
    const g = residual();
    const r = split(g, { at: ['b'] });
    expect(r.info[0]!.nodeNames).toHaveLength(2);
    // x (skip into Add), a (read by Sub), b (graph output and read by Mul)
    expect(r.parts[0]!.outputs.map((o) => o.name).sort()).toEqual(['a', 'b', 'x']);
    expect(r.manifest.parts[0]!.outputs.find((o) => o.name === 'a')).toMatchObject({ dtype: 'float32', shape: ['N', 4], bytes: 16 });
    // initializer w only lives in the part that reads it
    expect(r.parts[0]!.initializers.has('w')).toBe(false);
    expect(r.parts[1]!.initializers.has('w')).toBe(true);
    expectSameOutputs(runParts(r.parts, feedsX()), InferenceSession.fromGraph(g).runSync(feedsX()), 'at b');
  });

  it('multi-cut at: a value read three parts later passes through the middle parts', async () => {
    const g = residual();
    const r = split(g, { at: ['a', 'c', 'd'] });
    expect(r.parts).toHaveLength(4);
    expect(r.parts[1]!.inputs.map((i) => i.name)).toContain('a');
    expect(r.parts[2]!.outputs.map((o) => o.name)).toEqual(expect.arrayContaining(['a', 'b', 'd']));
    expectSameOutputs(runParts(r.parts, feedsX()), InferenceSession.fromGraph(g).runSync(feedsX()), 'at a,c,d');
    // pass-through parts (graph input = graph output) load and agree in onnxruntime-node too
    expect(await ortCheckParts(r.parts, feedsX())).toBeLessThanOrEqual(1e-6);
  });

  it('keepLocal keeps the first layers in part 1 (raw input never leaves it)', () => {
    const g = residual();
    const r = split(g, { parts: 2, keepLocal: 4, objective: 'balance' });
    expect(r.info[0]!.nodes).toBeGreaterThanOrEqual(4);
    expect(r.parts[1]!.inputs.map((i) => i.name)).not.toContain('x');
    expect(() => split(g, { at: ['a'], keepLocal: 2 })).toThrow(/keepLocal 2/);
    expect(() => split(g, { parts: 3, keepLocal: 5 })).toThrow(SplitError);
    expect(() => split(g, { parts: 2, keepLocal: 99 })).toThrow(/exceeds/);
  });

  it('balance puts the cut where the stages are even; min-transfer where the cut is small', () => {
    // big MatMul chain: x[1,64] → MatMul W1[64,64] → Relu → MatMul W2 → Relu → ReduceSum → y
    const g = new Graph();
    g.inputs = [{ name: 'x', type: f32([1, 64]) }];
    const w = () => new Tensor('float32', new Float32Array(64 * 64).map((_, i) => Math.sin(i) / 8), [64, 64]);
    g.initializers.set('W1', w());
    g.initializers.set('W2', w());
    g.nodes = [node('MatMul', ['x', 'W1'], ['h1']), node('Relu', ['h1'], ['r1']), node('MatMul', ['r1', 'W2'], ['h2']), node('Relu', ['h2'], ['r2']), node('ReduceSum', ['r2'], ['y'])];
    g.outputs = [{ name: 'y', type: f32([1, 1]) }];
    const bal = split(g, { parts: 2, objective: 'balance' });
    expect(bal.info.map((p) => p.nodes)).toEqual([2, 3]);
    const mt = split(g, { parts: 2, objective: 'min-transfer' });
    // r1, h2 and r2 all cost 256 bytes: the tie goes to the most even stages
    expect(mt.info[1]!.inputs.map((i) => i.name)).toEqual(['r1']);
    // a slow second device pushes work to the first
    const slow = split(g, { parts: 2, objective: 'balance', deviceSpeed: [1, 0.01] });
    expect(slow.info[0]!.nodes).toBe(4);
    // a very slow link with latency objective: keep everything but the last node local (smallest cut)
    const lat = split(g, { parts: 2, objective: 'latency', linkMbps: 0.001 });
    expect(lat.info[1]!.inputs[0]!.bytes).toBeLessThanOrEqual(256);
    expect(bal.estimate.bottleneckMs).toBeGreaterThan(0);
  });
});

describe('split: cost model inputs', () => {
  it('measured node times (profileNodes) drive the cut instead of MACs', () => {
    const g = residual();
    const prof = profileNodes(g, feedsX());
    expect([...prof.keys()].sort()).toEqual(g.nodes.map((n) => n.name).sort());
    for (const v of prof.values()) expect(v).toBeGreaterThanOrEqual(0);
    // pretend the last node is very slow: balance isolates it
    const fake = new Map(g.nodes.map((n, i) => [n.name, i === g.nodes.length - 1 ? 100 : 1]));
    const r = split(g, { parts: 2, nodeMs: fake });
    expect(r.info.map((p) => p.nodes)).toEqual([5, 1]);
    expect(r.estimate.stageMs[1]).toBeCloseTo(100);
  });

  it('measuredSplit times the real parts and keeps a valid, bit-identical split', () => {
    const g = residual();
    const r = measuredSplit(g, { parts: 3 }, feedsX(), 2, 3);
    expect(r.measuredMs).toHaveLength(3);
    expect(r.info.every((p) => p.nodes > 0)).toBe(true);
    expectSameOutputs(runParts(r.parts, feedsX()), InferenceSession.fromGraph(g).runSync(feedsX()), 'measured');
  });

  it('splits graphs with ops edgeq cannot run when value types are declared; says why otherwise', () => {
    const g = residual();
    g.nodes[1] = { ...g.nodes[1]!, op: 'Mystery', domain: 'com.example' };
    g.opsets['com.example'] = 1;
    expect(() => split(g, { at: ['b'] })).toThrow(/cannot determine the type of tensor 'a'.*shape inference failed: UnsupportedOpError/);
    for (const v of ['a', 'b', 'bw', 'c', 'd']) g.types.set(v, f32(['N', 4]));
    const r = split(g, { at: ['b'] });
    expect(r.parts[0]!.nodes.map((n) => n.op)).toEqual(['Relu', 'Mystery']);
    expect(r.parts[1]!.inputs.map((i) => i.name).sort()).toEqual(['a', 'b', 'x']);
  });
});

describe('split: bad requests are typed errors naming the problem', () => {
  const g = residual();
  it.each([
    [{ at: ['nope'] }, /unknown tensor 'nope'/],
    [{ at: ['x'] }, /'x' does not separate the graph: it is a graph input/],
    [{ at: ['w'] }, /'w' does not separate.*initializer/],
    [{ at: ['y'] }, /cut at 'y' does not separate the graph: no node remains/],
    [{ at: ['c', 'a'] }, /cut at 'a' does not separate the graph: everything it depends on is already before the cut at 'c'/],
    [{ at: ['a', 'a'] }, /listed twice/],
    [{ parts: 7 }, /cannot split into 7 parts: graph 'residual' has only 6 nodes/],
    [{ parts: 0 }, /positive integer/],
    [{ parts: 2.5 }, /positive integer/],
    [{ parts: 2, deviceSpeed: [1, 0] }, /deviceSpeed/],
    [{ parts: 2, deviceSpeed: [1, 1, 1] }, /3 devices but there are 2 parts/],
    [{ parts: 2, linkMbps: -1 }, /linkMbps/],
    [{ parts: 2, objective: 'fastest' as never }, /unknown objective 'fastest'/],
    [{}, /exactly one of/],
    [{ parts: 2, at: ['a'] }, /exactly one of/],
  ])('%j', (opts, re) => {
    let err: unknown;
    try {
      split(g, opts);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SplitError);
    expect(err).toBeInstanceOf(EdgeqError);
    expect((err as Error).message).toMatch(re);
  });

  it('a graph with a cycle or dangling input is reported by the graph validator', () => {
    const bad = residual();
    bad.nodes[0]!.inputs = ['missing'];
    expect(() => split(bad, { parts: 2 })).toThrow(EdgeqError);
  });
});

describe.skipIf(!hasData('mnist/lenet.onnx'))('split: lenet', () => {
  it('every K, every objective and every single cut composes bit-identically; parts agree with onnxruntime-node', async () => {
    const g = readOnnx(new Uint8Array(readFileSync(dataPath('mnist/lenet.onnx'))));
    const raw = readFileSync(dataPath('mnist/x_test.npy'));
    const headerLen = raw.readUInt16LE(8);
    const x = new Float32Array(raw.buffer.slice(raw.byteOffset + 10 + headerLen, raw.byteOffset + 10 + headerLen + 8 * 784 * 4));
    const feeds = { input: new Tensor('float32', x, [8, 1, 28, 28]) };
    const want = InferenceSession.fromGraph(g).runSync(feeds);
    let worst = 0;
    for (let K = 1; K <= g.nodes.length; K++)
      for (const objective of ['balance', 'min-transfer', 'latency'] as const) {
        const r = split(g, { parts: K, objective, linkMbps: 100 });
        expectSameOutputs(runParts(r.parts, feeds), want, `lenet K=${K} ${objective}`);
        if (objective === 'balance') worst = Math.max(worst, await ortCheckParts(r.parts, feeds));
      }
    for (const n of g.nodes.slice(0, -1)) {
      const r = split(g, { at: [n.outputs[0]!] });
      expectSameOutputs(runParts(r.parts, feeds), want, `lenet at ${n.outputs[0]}`);
    }
    expect(worst).toBeLessThanOrEqual(1e-4);
  });
});

describe.skipIf(!hasData('onnx-conformance/pytorch-converted'))('split: every pytorch-converted model', () => {
  const dir = dataPath('onnx-conformance/pytorch-converted');
  const cases = existsSync(dir) ? readdirSync(dir).filter((c) => existsSync(join(dir, c, 'model.onnx'))).sort() : [];

  it('all splits compose bit-identically and every part agrees with onnxruntime-node', async () => {
    const notRunnable: string[] = [];
    const ortBad: string[] = [];
    let splits = 0;
    for (const c of cases) {
      const { graph, feeds } = loadCase(join(dir, c));
      let want: Record<string, Tensor>;
      try {
        want = InferenceSession.fromGraph(graph).runSync(feeds);
      } catch (e) {
        notRunnable.push(`${c} (${(e as Error).message.slice(0, 80)})`);
        continue;
      }
      const N = graph.nodes.length;
      for (let K = 1; K <= Math.min(N, 4); K++)
        for (const objective of ['balance', 'min-transfer', 'latency'] as const) {
          const r = split(graph, { parts: K, objective });
          expectSameOutputs(runParts(r.parts, feeds), want, `${c} K=${K} ${objective}`);
          splits++;
        }
      for (const n of graph.nodes)
        for (const t of n.outputs.filter((o) => o)) {
          let r;
          try {
            r = split(graph, { at: [t] });
          } catch (e) {
            expect((e as Error).message, `${c} at ${t}`).toMatch(/does not separate/);
            continue;
          }
          expectSameOutputs(runParts(r.parts, feeds), want, `${c} at ${t}`);
          splits++;
          try {
            const v = await ortCheckParts(r.parts, feeds);
            if (!(v <= 1e-4)) ortBad.push(`${c} at ${t}: ${v}`);
          } catch (e) {
            ortBad.push(`${c} at ${t}: ${(e as Error).message.slice(0, 160)}`);
          }
        }
      if (N === 1) {
        // single-node models: the K=1 "split" must still load in onnxruntime-node
        try {
          const v = await ortCheckParts(split(graph, { parts: 1 }).parts, feeds);
          if (!(v <= 1e-4)) ortBad.push(`${c}: ${v}`);
        } catch (e) {
          ortBad.push(`${c}: ${(e as Error).message.slice(0, 160)}`);
        }
      }
    }
    console.log(`pytorch-converted: ${cases.length - notRunnable.length}/${cases.length} models split (${splits} splits); not runnable in edgeq: ${notRunnable.length ? notRunnable.join('; ') : 'none'}`);
    expect(ortBad).toEqual([]);
    expect(cases.length - notRunnable.length).toBeGreaterThan(0);
  });
});
