// Sealed-model load overhead (issue 19): InferenceSession.create on mobilenet_v2 from a sealed container (v2,
// AES-256-GCM; and AES + Ed25519 signature checked against a verify key; and the older v1 container) vs from the
// plain model, from bytes in memory and from files (a sealed file is decrypted while it is read), interleaved in one
// process so all see the same machine load — in a fresh shuffled order every round so no case always follows the same one (each load leaves garbage the next
// one's GC pays for); medians and ratios. Target sealed/plain ≤ 1.05.
// Wall time and process CPU time (all threads: GC helpers, the crypto thread pool) are both reported. The last
// column is AES-256-GCM throughput of openSealedModel alone (what create() runs: decrypt, weights into their own
// buffers; model bytes / its CPU time; Node: node:crypto through #platform — Node's WebCrypto ran 2–10× slower on
// whole models). The 'page faults' row: minor faults per load (first touches of fresh memory). Two more tables (Linux)
// split each load's wall time: the loading thread's CPU, its wait for a core while runnable, its sleep, and the CPU
// of every other thread of the process meanwhile (V8's compiler and GC helpers, the crypto thread, the kernel worker).
// EDGEQ_SEAL_NICE=n (an experiment): the crypto thread's nice value raised by n (compare runs with and without).
//   node bench/seal.bench.js [--quick] [--json]
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InferenceSession } from '../dist/runtime/session.js';
import { openModel } from '../dist/runtime/open-model.js';
import { openSealedModel, sealModel, sealTrace } from '../dist/formats/sealed.js';
import { generateContentKey, generateSigningKeyPair } from '../dist/formats/sealed-keys.js';
import { dataFile, fmt, json, quick, table } from './common.js';

// [column, case, its plain peer] for the per-round ratios
const PAIRS = [
  ['v4 sealed/plain', 'sealed', 'plain'],
  ['v2 sealed/plain', 'v2', 'plain'],
  ['v4 signed/plain', 'signed', 'plain'],
  ['v3 signed/plain', 'signedV3', 'plain'],
  ['v2 signed/plain', 'signedV2', 'plain'],
  ['v1 sealed/plain', 'v1', 'plain'],
  ['file v4 sealed/plain', 'sealedFile', 'plainFile'],
  ['file v2 sealed/plain', 'v2File', 'plainFile'],
  ['file v4 signed/plain', 'signedFile', 'plainFile'],
  ['file v3 signed/plain', 'signedV3File', 'plainFile'],
];
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

// CPU time of the loading (main) thread alone, ms (Linux: schedstat's run time in ns; NaN elsewhere). With the
// crypto thread on another core this is the load's critical path; unlike wall time it does not count waiting for a
// core, so it still reads right on a loaded machine (it does count waiting for the crypto thread only as far as
// the loading thread then decrypts a chunk itself).
const SCHEDSTAT = `/proc/self/task/${process.pid}/schedstat`;
/** the loading thread's [CPU time, time runnable but waiting for a core] so far, ms (NaN off Linux) */
function mainSched() {
  try {
    return readFileSync(SCHEDSTAT, 'utf8').split(' ').slice(0, 2).map((x) => Number(x) / 1e6);
  } catch {
    return [NaN, NaN];
  }
}
const mainCpu = () => mainSched()[0];
/** CPU time of every thread of the process but the loading one, ms: V8's helper threads (compiler, GC), the crypto thread, the kernel worker */
function othersCpu() {
  let sum = 0;
  try {
    for (const t of readdirSync('/proc/self/task')) {
      if (t === String(process.pid)) continue;
      try {
        sum += Number(readFileSync(`/proc/self/task/${t}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
      } catch {
        // (a thread that ended between the listing and the read)
      }
    }
  } catch {
    return NaN;
  }
  return sum;
}

async function timed(fn) {
  const f0 = process.resourceUsage().minorPageFault;
  const c0 = process.cpuUsage();
  const [m0, q0] = mainSched();
  const o0 = othersCpu();
  const t0 = performance.now();
  const r = await fn();
  const ms = performance.now() - t0;
  const [m1, q1] = mainSched();
  const others = othersCpu() - o0;
  const c = process.cpuUsage(c0);
  const faults = process.resourceUsage().minorPageFault - f0;
  if (r?.release) await r.release();
  // the loading thread's wall time is its CPU + its wait for a core (other threads, other processes) + its sleep
  // (blocked: Atomics.wait for the crypto thread, a GC helper, I/O)
  return { ms, cpu: (c.user + c.system) / 1e3, faults, main: m1 - m0, queued: q1 - q0, slept: ms - (m1 - m0) - (q1 - q0), others };
}

export async function run() {
  // (an experiment: EDGEQ_SEAL_NICE=n raises the crypto thread's nice value by n — compare runs with and without)
  if (process.env.EDGEQ_SEAL_NICE) sealTrace.cryptoNice = Number(process.env.EDGEQ_SEAL_NICE);
  const path = dataFile('bench/mobilenet_v2.onnx');
  if (!path) {
    table('Sealed model load overhead', [{ model: 'mobilenet_v2', result: 'skipped (no ../shared data)' }]);
    return { seal: null };
  }
  const model = new Uint8Array(readFileSync(path));
  const key = generateContentKey();
  const kp = await generateSigningKeyPair('ed25519');
  // version 4 (the default for ONNX; version 3 with the signature over per-chunk digests: skeleton first, weights decrypted on the crypto thread while the session is
  // built) and version 2 (the whole model decrypted before parsing), so before/after stand in the same run
  const sealed = await sealModel(model, { key });
  const signed = await sealModel(model, { key, signingKey: kp.privatePem });
  const signedV3 = await sealModel(model, { key, version: 3, signingKey: kp.privatePem });
  const sealedV2 = await sealModel(model, { key, version: 2 });
  const signedV2 = await sealModel(model, { key, version: 2, signingKey: kp.privatePem });
  const sealedV1 = await sealModel(model, { key, version: 1 });
  const dir = mkdtempSync(join(tmpdir(), 'edgeq-seal-bench-'));
  const sealedPath = join(dir, 'mobilenet_v2.onnx.eqs');
  writeFileSync(sealedPath, sealed);
  const signedPath = join(dir, 'mobilenet_v2.signed.eqs');
  writeFileSync(signedPath, signed);
  const signedV3Path = join(dir, 'mobilenet_v2.signed3.eqs');
  writeFileSync(signedV3Path, signedV3);
  const sealedV2Path = join(dir, 'mobilenet_v2.v2.eqs');
  writeFileSync(sealedV2Path, sealedV2);
  const cases = {
    plain: () => InferenceSession.create(model),
    sealed: () => InferenceSession.create(sealed, { decryptionKey: key }),
    signed: () => InferenceSession.create(signed, { decryptionKey: key, verifyKey: kp.publicPem }),
    v2: () => InferenceSession.create(sealedV2, { decryptionKey: key }),
    signedV3: () => InferenceSession.create(signedV3, { decryptionKey: key, verifyKey: kp.publicPem }),
    signedV2: () => InferenceSession.create(signedV2, { decryptionKey: key, verifyKey: kp.publicPem }),
    v1: () => InferenceSession.create(sealedV1, { decryptionKey: key }),
    plainFile: () => InferenceSession.create(path),
    sealedFile: () => InferenceSession.create(sealedPath, { decryptionKey: key }),
    signedFile: () => InferenceSession.create(signedPath, { decryptionKey: key, verifyKey: kp.publicPem }),
    signedV3File: () => InferenceSession.create(signedV3Path, { decryptionKey: key, verifyKey: kp.publicPem }),
    v2File: () => InferenceSession.create(sealedV2Path, { decryptionKey: key }),
    decrypt: () => openSealedModel(sealedV2, { decryptionKey: key }),
  };
  const reps = quick ? 3 : 31;
  const wall = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  const cpu = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  const faults = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  const main = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  const queued = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  const slept = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  const others = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  try {
    for (const f of Object.values(cases)) await timed(f); // warm-up: WASM instantiation, JIT
    const order = Object.entries(cases);
    let seed = 19;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (let r = 0; r < reps; r++) {
      for (let j = order.length - 1; j > 0; j--) {
        const i = Math.floor(rand() * (j + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
      for (const [k, f] of order) {
        const t = await timed(f);
        wall[k].push(t.ms);
        cpu[k].push(t.cpu);
        faults[k].push(t.faults);
        main[k].push(t.main);
        queued[k].push(t.queued);
        slept[k].push(t.slept);
        others[k].push(t.others);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // per-round ratios (each round's sealed load over the same round's plain load): slow drifts of machine load cancel
  const paired = (m, k, base) => median(m[k].map((x, r) => x / m[base][r]));
  const w = Object.fromEntries(Object.entries(wall).map(([k, v]) => [k, median(v)]));
  const c = Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, median(v)]));
  // first touches of fresh memory (a page fault per 4 KiB; ≈ 10 µs each on a VM): the cost a model-sized buffer adds
  const flt = Object.fromEntries(Object.entries(faults).map(([k, v]) => [k, median(v)]));
  const res = {
    model: 'mobilenet_v2',
    bytes: model.length,
    reps,
    wallMs: w,
    cpuMs: c,
    minorFaults: flt,
    sealedRatio: w.sealed / w.plain,
    signedRatio: w.signed / w.plain,
    v1Ratio: w.v1 / w.plain,
    fileRatio: w.sealedFile / w.plainFile,
    signedFileRatio: w.signedFile / w.plainFile,
    sealedCpuRatio: c.sealed / c.plain,
    signedCpuRatio: c.signed / c.plain,
    v1CpuRatio: c.v1 / c.plain,
    fileCpuRatio: c.sealedFile / c.plainFile,
    signedFileCpuRatio: c.signedFile / c.plainFile,
    aesGcmMBps: model.length / 1e6 / (c.decrypt / 1e3),
    pairedWall: Object.fromEntries(PAIRS.map(([name, k, base]) => [name, paired(wall, k, base)])),
    pairedCpu: Object.fromEntries(PAIRS.map(([name, k, base]) => [name, paired(cpu, k, base)])),
    pairedMain: Object.fromEntries(PAIRS.map(([name, k, base]) => [name, paired(main, k, base)])),
    mainMs: Object.fromEntries(Object.entries(main).map(([k, v]) => [k, median(v)])),
    queuedMs: Object.fromEntries(Object.entries(queued).map(([k, v]) => [k, median(v)])),
    sleptMs: Object.fromEntries(Object.entries(slept).map(([k, v]) => [k, median(v)])),
    othersMs: Object.fromEntries(Object.entries(others).map(([k, v]) => [k, median(v)])),
    // per round, sealed minus its plain peer (ms): where the extra wall time of a sealed load went
    pairedExtra: Object.fromEntries(PAIRS.map(([name, k, base]) => [name, Object.fromEntries(Object.entries({ wall, main, queued, slept, others }).map(([what, m]) => [what, median(m[k].map((x, r) => x - m[base][r]))]))])),
  };
  const row = (time, m, r) => ({
    time,
    'plain': fmt(m.plain, 1),
    'sealed': fmt(m.sealed, 1),
    'sealed/plain': fmt(r[0], 3),
    'signed': fmt(m.signed, 1),
    'signed/plain': fmt(r[1], 3),
    'v1 sealed/plain': fmt(r[3], 3),
    'plain file': fmt(m.plainFile, 1),
    'sealed file': fmt(m.sealedFile, 1),
    'file sealed/plain': fmt(r[2], 3),
    'signed file': fmt(m.signedFile, 1),
    'file signed/plain': fmt(r[4], 3),
    'decrypt only': fmt(m.decrypt, 1),
    'AES-GCM MB/s': time === 'cpu' ? fmt(res.aesGcmMBps, 0) : '',
  });
  table(`Sealed model load overhead: mobilenet_v2 InferenceSession.create (ms), median of ${reps} interleaved loads (target sealed/plain ≤ 1.05)`, [
    row('wall', w, [res.sealedRatio, res.signedRatio, res.fileRatio, res.v1Ratio, res.signedFileRatio]),
    row('cpu', c, [res.sealedCpuRatio, res.signedCpuRatio, res.fileCpuRatio, res.v1CpuRatio, res.signedFileCpuRatio]),
    { ...Object.fromEntries(Object.keys(row('wall', w, [0, 0, 0, 0, 0])).map((k) => [k, ''])), time: 'page faults', ...Object.fromEntries(['plain', 'sealed', 'signed', 'plain file', 'sealed file', 'signed file', 'decrypt only'].map((k) => [k, String(flt[k === 'decrypt only' ? 'decrypt' : k.replace(/ file$/, 'File')])])) },
  ]);
  const pr = (m) => Object.fromEntries(PAIRS.map(([name]) => [name, fmt(m[name], 3)]));
  table('Same, as the median of per-round ratios (steadier when the machine load drifts); v4 = the default container (v3 with per-chunk signature digests), v3 and v2 = before it', [
    { time: 'wall', ...pr(res.pairedWall) },
    { time: 'cpu', ...pr(res.pairedCpu) },
    { time: 'loading thread cpu', ...pr(res.pairedMain) },
  ]);
  // Where a sealed load's extra wall time goes (Linux): the loading thread's own CPU, its wait for a core while runnable
  // (other threads of this process — V8's compiler and GC helpers, the crypto thread — or other processes on a
  // loaded machine), its sleep (blocked: waiting for the crypto thread, a GC helper), and the CPU the process's other
  // threads used meanwhile. On a quiet 2-core machine a wait for a core means both cores were busy within the process.
  const ex = (name) => res.pairedExtra[name];
  table('Sealed minus plain, per round (median ms): the loading thread\'s CPU, its wait for a core, its sleep; the other threads\' CPU', PAIRS.map(([name]) => ({
    case: name,
    wall: fmt(ex(name).wall, 2),
    'loading thread CPU': fmt(ex(name).main, 2),
    'waited for a core': fmt(ex(name).queued, 2),
    slept: fmt(ex(name).slept, 2),
    'other threads CPU': fmt(ex(name).others, 2),
  })));
  table('Per load (median ms): the loading thread\'s wait for a core and sleep, and the CPU of every other thread (V8 helpers, crypto thread, kernel worker)', ['plain', 'sealed', 'signed', 'plainFile', 'sealedFile', 'signedFile'].map((k) => ({
    case: k,
    wall: fmt(w[k], 1),
    'loading thread CPU': fmt(res.mainMs[k], 1),
    'waited for a core': fmt(res.queuedMs[k], 1),
    slept: fmt(res.sleptMs[k], 1),
    'other threads CPU': fmt(res.othersMs[k], 1),
  })));
  // The loading thread's floor with v4: the crypto thread given time to finish before the session is built (open,
  // wait, build, ready) — what a load costs its thread when the other core is free — against plain bytes, same steps.
  const staged = { plain: [], v3: [] };
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  for (let r = 0; r < reps; r++) {
    for (const k of ['plain', 'v3']) {
      await sleep(20);
      let c0 = mainCpu();
      const o = await openModel(k === 'plain' ? model : sealed, k === 'plain' ? {} : { decryptionKey: key });
      let t = mainCpu() - c0;
      await sleep(30);
      c0 = mainCpu();
      const s = InferenceSession.fromGraph(o.graph);
      if (o.ready) await o.ready();
      t += mainCpu() - c0;
      staged[k].push(t);
      await s.release();
    }
  }
  res.stagedMainMs = { plain: median(staged.plain), v3: median(staged.v3) };
  res.stagedRatio = median(staged.v3.map((x, r) => x / staged.plain[r]));
  table('Loading-thread CPU (ms) when the crypto thread is done before the session is built (the other core free): the v4 floor', [
    { plain: fmt(res.stagedMainMs.plain, 1), 'v4 sealed': fmt(res.stagedMainMs.v3, 1), 'v4/plain (paired)': fmt(res.stagedRatio, 3) },
  ]);
  return { seal: res };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await run();
  if (json) console.log(JSON.stringify(r));
}
