// Where a sealed (container version 4, the default; signed: + an Ed25519 signature checked against a verify key) and a
// plain InferenceSession.create of mobilenet_v2 spend their time (issue 19):
// the steps of create() replayed with timestamps (ms from the start of the load) — the kernel worker's start, reading
// the model, for v3 the loading thread's steps and the crypto thread's per-chunk claim/done times (formats/sealed.ts
// sealTrace), each weight's first read by the session build (which chunk it needs, and whether it had to wait), the
// session built, ready() — with the loading thread's CPU time so far (Linux schedstat) beside each of its steps. Prints
// per case every step's median time over the loads with how long the loading thread had slept by then (wall − its CPU −
// its wait for a core), the main isolate's garbage collections per load and the crypto thread's CPU per job; then the
// run with the median total of `--reps` (default 9) loads per case.
//   node bench/seal-timeline.js [--reps N] [--case plain|sealed|signed|plainFile|sealedFile|signedFile] [--all]
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InferenceSession } from '../dist/runtime/session.js';
import { openModel, openModelFile } from '../dist/runtime/open-model.js';
import { acquireThreads, releaseThreads, threadsConfigured } from '../dist/kernels/threads.js';
import { sealModel, sealTrace } from '../dist/formats/sealed.js';
import { generateContentKey, generateSigningKeyPair } from '../dist/formats/sealed-keys.js';
import { dataFile } from './common.js';

const arg = (name, d) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : d;
};
const reps = Number(arg('--reps', 9));
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const only = arg('--case');
const all = process.argv.includes('--all');
const now = () => performance.timeOrigin + performance.now();
const SCHEDSTAT = `/proc/self/task/${process.pid}/schedstat`;
// the loading thread's [run time, time runnable but waiting for a core] (ms): wall − both = the time it slept (blocked:
// Atomics.wait for the crypto thread, a GC helper, a futex), which unlike run-queue delay is no artefact of machine load
const sched = () => readFileSync(SCHEDSTAT, 'utf8').split(' ').slice(0, 2).map((x) => Number(x) / 1e6);
const mainCpu = () => sched()[0];

const path = dataFile('bench/mobilenet_v2.onnx');
if (!path) {
  console.log('seal-timeline: skipped (no shared data)');
  process.exit(0);
}
const model = new Uint8Array(readFileSync(path));
const key = generateContentKey();
const kp = await generateSigningKeyPair('ed25519');
const sealed = await sealModel(model, { key });
const signed = await sealModel(model, { key, signingKey: kp.privatePem });
const dir = mkdtempSync(join(tmpdir(), 'edgeq-seal-tl-'));
const sealedPath = join(dir, 'm.eqs');
writeFileSync(sealedPath, sealed);
const signedPath = join(dir, 'm.signed.eqs');
writeFileSync(signedPath, signed);

/** One load, replaying InferenceSession.create: kernel threads acquired first, the model opened, the session built. */
// the main isolate's garbage collections (PerformanceObserver 'gc': delivered later, placed in each load's timeline after it)
const gcs = [];
new PerformanceObserver((l) => gcs.push(...l.getEntries())).observe({ entryTypes: ['gc'] });
const GC_KIND = { 1: 'scavenge', 2: 'mark-compact', 4: 'incremental marking', 8: 'weak callbacks' };

async function load(kind) {
  const ev = [];
  const t0 = now();
  const [c0, d0] = sched();
  const mark = (what, chunk, n) => {
    const t = now() - t0;
    const [c, d] = sched();
    ev.push([t, what, chunk, n, c - c0, t - (c - c0) - (d - d0)]);
  };
  sealTrace.on = (what, chunk, n) => mark(what, chunk, n);
  sealTrace.threadTimes = undefined;
  const threads = acquireThreads(threadsConfigured()).then((n) => {
    mark(`kernel worker ready (${n} threads)`);
    return n;
  });
  const opts = kind.startsWith('sealed') ? { decryptionKey: key } : kind.startsWith('signed') ? { decryptionKey: key, verifyKey: kp.publicPem } : {};
  const file = { plainFile: path, sealedFile: sealedPath, signedFile: signedPath }[kind];
  const o = file ? ((await openModelFile(file, opts)) ?? (mark('file fast path declined'), await openModel(readFileSync(file), opts))) : await openModel({ plain: model, sealed, signed }[kind], opts);
  mark('graph parsed');
  if (!o.ready) {
    // the plain graph: note each weight's first read as the v3 loader does
    for (const t of o.graph.initializers.values()) {
      const d = t.data;
      if (!d || d.byteLength < 1024) continue;
      Object.defineProperty(t, 'data', {
        configurable: true,
        enumerable: true,
        get() {
          mark('weight read', undefined, d.byteLength);
          Object.defineProperty(t, 'data', { value: d, writable: true, configurable: true, enumerable: true });
          return d;
        },
      });
    }
  }
  const s = InferenceSession.fromGraph(o.graph);
  mark('session built');
  if (o.ready) await o.ready();
  mark('ready() done');
  const n = await threads;
  const total = now() - t0;
  const [c1, d1] = sched();
  const cpu = c1 - c0;
  const slept = total - cpu - (d1 - d0);
  const tt = sealTrace.threadTimes;
  let cryptoCpu = NaN;
  sealTrace.on = undefined;
  if (tt) {
    const nseg = (tt.length - 4) / 2;
    if (tt[0]) ev.push([tt[0] - t0, 'crypto thread: job start']);
    for (let i = 0; i < nseg; i++) if (tt[1 + 2 * i]) ev.push([tt[1 + 2 * i] - t0, 'crypto thread: claims', i], [tt[2 + 2 * i] - t0, 'crypto thread: done', i]);
    if (tt[2 * nseg + 1]) ev.push([tt[2 * nseg + 1] - t0, 'crypto thread: hashes done']);
    cryptoCpu = tt[2 * nseg + 3] - tt[2 * nseg + 2];
  }
  if (n > 1) releaseThreads();
  await s.release();
  await new Promise((r) => setTimeout(r, 1)); // (gc entries are delivered on a timer turn)
  const tEnd = t0 + total;
  for (const g of gcs.splice(0)) {
    const at = performance.timeOrigin + g.startTime;
    if (at >= t0 && at <= tEnd) ev.push([at - t0, `GC: ${GC_KIND[g.detail?.kind ?? g.kind] ?? 'gc'} ${g.duration.toFixed(2)} ms`]);
  }
  ev.sort((a, b) => a[0] - b[0]);
  return { total, cpu, slept, cryptoCpu, ev };
}

const cases = only ? only.split(',') : ['plain', 'sealed', 'signed', 'plainFile', 'sealedFile', 'signedFile'];
try {
  for (const k of cases) await load(k); // warm-up
  const runs = Object.fromEntries(cases.map((k) => [k, []]));
  for (let r = 0; r < reps; r++) for (const k of cases) runs[k].push(await load(k));
  // how long the loading thread waited for the crypto thread, per load (from 'waits for the crypto thread' to the
  // segment arriving or being taken over)
  const waited = (r) => {
    let sum = 0;
    let from;
    for (const [t, what] of r.ev) {
      if (what === 'waits for the crypto thread') from = t;
      else if (from !== undefined && (what === 'waited for the crypto thread until here' || what === 'takes over from the crypto thread')) {
        sum += t - from;
        from = undefined;
      }
    }
    return sum;
  };
  for (const k of cases) {
    const w = runs[k].map(waited).sort((a, b) => a - b);
    console.log(`${k}: the loading thread waited for the crypto thread ${w.map((x) => x.toFixed(1)).join(' ')} ms (sorted, per load)`);
  }
  // every step's median time over the loads (the first occurrence per load; weight reads: the first and the last), so
  // one slow load (a lost core) does not decide where the time goes
  for (const k of cases) {
    const at = new Map();
    for (const r of runs[k]) {
      const seen = new Map();
      for (const [t, what, , , , s] of r.ev) {
        if (what.startsWith('GC:')) continue; // (counted below)
        const name = what === 'weight read' ? (seen.has('first weight read') ? 'last weight read' : 'first weight read') : what === 'crypto thread: done' && seen.has(what) ? 'crypto thread: last segment done' : what;
        if (!name.startsWith('last') && !name.endsWith('last segment done') && seen.has(name)) continue;
        seen.set(name, [t, s]);
      }
      seen.set('total', [r.total, r.slept]);
      for (const [name, t] of seen) (at.get(name) ?? at.set(name, []).get(name)).push(t);
    }
    const rows = [...at].map(([name, ts]) => [median(ts.map((x) => x[0])), name, ts.length, ts[0][1] === undefined ? NaN : median(ts.map((x) => x[1]))]).sort((a, b) => a[0] - b[0]);
    console.log(`\n== ${k}: median time of each step over ${reps} loads (ms from the load's start; n = loads that had it), and how long the loading thread had slept by then (median; wall − its CPU − its run-queue wait)`);
    for (const [t, name, n, s] of rows) console.log(`${t.toFixed(2).padStart(7)}  ${Number.isNaN(s) ? '       ' : `${s.toFixed(2).padStart(6)} `} ${name}${n < reps ? `  (n = ${n})` : ''}`);
    const cc = runs[k].map((r) => r.cryptoCpu).filter((x) => !Number.isNaN(x));
    console.log(`  loading thread: CPU ${median(runs[k].map((r) => r.cpu)).toFixed(2)} ms, slept ${median(runs[k].map((r) => r.slept)).toFixed(2)} ms (medians)${cc.length ? `; crypto thread: CPU ${median(cc).toFixed(2)} ms per job (median)` : ''}`);
    const gc = runs[k].map((r) => r.ev.filter((e) => e[1].startsWith('GC: scavenge') || e[1].startsWith('GC: mark')));
    const sum = (xs) => xs.reduce((a, b) => a + b, 0);
    const gcMs = (g) => sum(g.map((e) => Number(/([\d.]+) ms$/.exec(e[1])[1])));
    console.log(`  main isolate GCs (scavenge, mark-compact) during a load: ${(sum(gc.map((g) => g.length)) / reps).toFixed(2)} per load, ${(sum(gc.map(gcMs)) / reps).toFixed(2)} ms per load (means)`);
  }
  for (const k of cases) {
    const sorted = [...runs[k]].sort((a, b) => a.total - b.total);
    const med = sorted[sorted.length >> 1];
    console.log(`\n== ${k}: median of ${reps} loads ${med.total.toFixed(1)} ms wall, loading thread ${med.cpu.toFixed(1)} ms CPU (all: ${runs[k].map((x) => x.total.toFixed(1)).join(' ')})`);
    // weight reads and chunk events are many: fold runs of the same event into one line
    let prev;
    for (const [t, what, chunk, n, cpu] of med.ev) {
      const line = `${what}${chunk !== undefined ? ` #${chunk}` : ''}${n !== undefined ? ` (${(n / 1024).toFixed(0)} KiB)` : ''}${cpu !== undefined ? `  [loading thread ${cpu.toFixed(2)} ms CPU]` : ''}`;
      if (!all && prev && prev.what === what && (what.startsWith('weight read') || what.startsWith('crypto thread: c') || what.startsWith('crypto thread: d'))) {
        prev.count++;
        prev.last = `${t.toFixed(2)} ${line}`;
        continue;
      }
      if (prev?.count) console.log(`   … ${prev.count} more, last ${prev.last}`);
      console.log(`${t.toFixed(2).padStart(7)}  ${line}`);
      prev = { what, count: 0 };
    }
    if (prev?.count) console.log(`   … ${prev.count} more, last ${prev.last}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
