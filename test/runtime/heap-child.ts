// Run by test/runtime/memory.test.ts as `node --expose-gc --import tsx heap-child.ts`: a squeezenet-like conv net
// (Conv+Relu fire modules with an in-place Concat, MaxPool, Add, Sigmoid) run 1,000 times; prints the JS heap and
// the WASM memory after warm-up and after the runs, each measured after a full GC. One JSON line.
import { Graph } from '../../src/ir/graph.js';
import { arena } from '../../src/kernels/wasm.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { Tensor } from '../../src/tensor/tensor.js';

const gc = (globalThis as { gc?: () => void }).gc!;
const rnd = (n: number, s: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + s) * 0.3);
const g = new Graph();
g.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [1, 8, 20, 20] } }];
g.initializers.set('Ws', new Tensor('float32', rnd(4 * 8, 1), [4, 8, 1, 1]));
g.initializers.set('We1', new Tensor('float32', rnd(8 * 4, 2), [8, 4, 1, 1]));
g.initializers.set('We3', new Tensor('float32', rnd(8 * 4 * 9, 3), [8, 4, 3, 3]));
g.initializers.set('Wo', new Tensor('float32', rnd(16 * 16, 4), [16, 16, 1, 1]));
g.nodes = [
  { name: 'sq', op: 'Conv', domain: '', inputs: ['X', 'Ws'], outputs: ['s'], attrs: {} },
  { name: 'rs', op: 'Relu', domain: '', inputs: ['s'], outputs: ['sr'], attrs: {} },
  { name: 'e1', op: 'Conv', domain: '', inputs: ['sr', 'We1'], outputs: ['a'], attrs: {} },
  { name: 'r1', op: 'Relu', domain: '', inputs: ['a'], outputs: ['ar'], attrs: {} },
  { name: 'e3', op: 'Conv', domain: '', inputs: ['sr', 'We3'], outputs: ['b'], attrs: { pads: [1, 1, 1, 1] } },
  { name: 'r3', op: 'Relu', domain: '', inputs: ['b'], outputs: ['br'], attrs: {} },
  { name: 'cat', op: 'Concat', domain: '', inputs: ['ar', 'br'], outputs: ['c'], attrs: { axis: 1 } },
  { name: 'out', op: 'Conv', domain: '', inputs: ['c', 'Wo'], outputs: ['o'], attrs: {} },
  { name: 'add', op: 'Add', domain: '', inputs: ['o', 'c'], outputs: ['p'], attrs: {} },
  { name: 'sig', op: 'Sigmoid', domain: '', inputs: ['p'], outputs: ['q'], attrs: {} },
  { name: 'mp', op: 'MaxPool', domain: '', inputs: ['q'], outputs: ['Y'], attrs: { kernel_shape: [2, 2], strides: [2, 2] } },
];
g.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];

const s = await InferenceSession.create(g);
const x = new Tensor('float32', rnd(8 * 400, 5), [1, 8, 20, 20]);
for (let i = 0; i < 50; i++) await s.run({ X: x });
gc();
gc();
const heap0 = process.memoryUsage().heapUsed;
const wasm0 = arena()!.memory.buffer.byteLength;
for (let i = 0; i < 1000; i++) await s.run({ X: x });
gc();
gc();
const heap1 = process.memoryUsage().heapUsed;
const wasm1 = arena()!.memory.buffer.byteLength;
const kernels = [...(s as unknown as { exec: { kernels: Map<unknown, { name: string }> } }).exec.kernels.values()].map((k) => k.name);
console.log(JSON.stringify({ heap0, heap1, wasm0, wasm1, kernels }));
