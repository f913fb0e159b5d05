// CPU per InferenceSession.create of mobilenet_v2 by thread group (Linux /proc/self/task/*/schedstat), plain bytes
// against sealed bytes (v4): the loading thread, V8's platform threads (TurboFan compiles, GC helpers; they exist
// before the first load), the crypto thread (started by the first sealed load) and threads started later (the kernel
// worker when it is started again). On a 2-core machine a plain load whose other threads already keep the second
// core busy leaves the crypto thread no free core: this shows how busy (docs/sealed-format.md, session 12).
//   node bench/seal-threads.js [--warm N (loads of each case first, default 40)] [--loads N (per batch, default 20)]
import { readdirSync, readFileSync } from 'node:fs';
import { InferenceSession } from '../dist/runtime/session.js';
import { sealModel } from '../dist/formats/sealed.js';
import { generateContentKey } from '../dist/formats/sealed-keys.js';
import { dataFile } from './common.js';

const arg = (name, d) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : d;
};
const warm = arg('--warm', 40);
const loads = arg('--loads', 20);
const path = dataFile('bench/mobilenet_v2.onnx');
if (!path) {
  console.log('seal-threads: skipped (no shared data)');
  process.exit(0);
}
const model = new Uint8Array(readFileSync(path));
const key = generateContentKey();
const sealed = await sealModel(model, { key });
const tids = () => readdirSync('/proc/self/task');
const cpuOf = (t) => {
  try {
    return Number(readFileSync(`/proc/self/task/${t}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return 0; // (a thread that ended between the listing and the read)
  }
};
const cases = { plain: () => InferenceSession.create(model), sealed: () => InferenceSession.create(sealed, { decryptionKey: key }) };
// the thread groups: those that exist before any load (the loading thread; V8's and libuv's pools), the kernel worker
// (started by the first load), the crypto thread (by the first sealed load)
const before = new Set(tids());
await (await cases.plain()).release();
const afterPlain = new Set(tids());
await (await cases.sealed()).release();
const group = {};
for (const t of tids()) group[t] = t === String(process.pid) ? 'loading thread' : before.has(t) ? 'V8/libuv pools' : afterPlain.has(t) ? 'kernel worker' : 'crypto thread';
for (const k of ['plain', 'sealed']) for (let i = 0; i < warm; i++) await (await cases[k]()).release();
const per = { plain: {}, sealed: {} };
const batches = 3;
for (let b = 0; b < batches; b++) {
  for (const k of ['plain', 'sealed']) {
    const a = Object.fromEntries(tids().map((t) => [t, cpuOf(t)]));
    for (let i = 0; i < loads; i++) await (await cases[k]()).release(); // back to back, as in seal.bench.js
    for (const t of tids()) {
      const g = group[t] ?? 'started later';
      per[k][g] = (per[k][g] ?? 0) + (cpuOf(t) - (a[t] ?? 0)) / loads / batches;
    }
  }
}
const groups = ['loading thread', 'V8/libuv pools', 'crypto thread', 'kernel worker', 'started later'];
console.log(`CPU ms per create() (mean of ${batches} × ${loads} loads per case after ${warm} warm-up loads each)`);
console.log(['case', ...groups, 'all but the loading thread'].join(' | '));
for (const k of ['plain', 'sealed']) {
  const others = groups.slice(1).reduce((s, g) => s + (per[k][g] ?? 0), 0);
  console.log([k, ...groups.map((g) => (per[k][g] ?? 0).toFixed(2)), others.toFixed(2)].join(' | '));
}
