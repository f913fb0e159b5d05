// Run by test/runtime/unshared-memory.test.ts as `node --import tsx unshared-child.ts`: kernel memory NOT shared
// (env.wasm.numThreads = 1 before the first kernel use — as in a browser page that is not cross-origin isolated), so
// every growth of the memory detaches the views of it. SqueezeNet-shaped fire modules (squeeze → expand1x1 ‖ expand3x3 →
// Concat in place, where the Concat's block is allocated between reading a node's inputs and running it) on the general
// path with every intermediate value fetched, as calibration runs it; prints each value's SHA-256 (of its bits) as JSON.
import { createHash } from 'node:crypto';
import { env } from '../../src/runtime/env.js';
import { Executor } from '../../src/runtime/executor.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { fireNet } from './unshared-net.js';

env.wasm.numThreads = Number(process.argv[2] ?? 1);
const { g, x } = fireNet();
const ex = new Executor(g);
const names = g.nodes.flatMap((n) => n.outputs);
const out = ex.run({ x }, names) as Record<string, Tensor>;
const digest = (t: Tensor) => createHash('sha256').update(new Uint8Array((t.data as Float32Array).slice().buffer)).digest('hex');
console.log(JSON.stringify(names.map((n) => `${n} ${out[n]!.dims.join('x')} ${digest(out[n]!)}`)));
