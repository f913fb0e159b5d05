// Sealed-model load overhead (issue 19): InferenceSession.create on mobilenet_v2 from sealed bytes (AES-256-GCM;
// and AES + Ed25519 signature checked against a verify key) vs from the plain bytes, interleaved in one process
// (plain, sealed, signed, plain, …) so both see the same machine load; medians and their ratio. Target ≤ 1.05.
// Wall time and process CPU time (all threads: WebCrypto runs on libuv's pool) are both reported — on a loaded
// machine the CPU-time ratio is the steadier measure of the work sealing adds.
//   node bench/seal.bench.js [--quick] [--json]
import { readFileSync } from 'node:fs';
import { InferenceSession } from '../dist/runtime/session.js';
import { openSealed, sealModel } from '../dist/formats/sealed.js';
import { generateContentKey, generateSigningKeyPair } from '../dist/formats/sealed-keys.js';
import { dataFile, fmt, json, quick, table } from './common.js';

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

async function timed(fn) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await fn();
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  if (r?.release) await r.release();
  return { ms, cpu: (c.user + c.system) / 1e3 };
}

export async function run() {
  const path = dataFile('bench/mobilenet_v2.onnx');
  if (!path) {
    table('Sealed model load overhead', [{ model: 'mobilenet_v2', result: 'skipped (no ../shared data)' }]);
    return { seal: null };
  }
  const model = new Uint8Array(readFileSync(path));
  const key = generateContentKey();
  const kp = await generateSigningKeyPair('ed25519');
  const sealed = await sealModel(model, { key });
  const signed = await sealModel(model, { key, signingKey: kp.privatePem });
  const reps = quick ? 3 : 15;
  const t = { plain: [], sealed: [], signed: [], decrypt: [] };
  const cpu = { plain: [], sealed: [], signed: [], decrypt: [] };
  const add = (k, x) => {
    t[k].push(x.ms);
    cpu[k].push(x.cpu);
  };
  // one warm-up of each (WASM instantiation, JIT)
  await timed(() => InferenceSession.create(model));
  await timed(() => InferenceSession.create(sealed, { decryptionKey: key }));
  for (let r = 0; r < reps; r++) {
    add('plain', await timed(() => InferenceSession.create(model)));
    add('sealed', await timed(() => InferenceSession.create(sealed, { decryptionKey: key })));
    add('signed', await timed(() => InferenceSession.create(signed, { decryptionKey: key, verifyKey: kp.publicPem })));
    add('decrypt', await timed(() => openSealed(sealed, { decryptionKey: key })));
  }
  const m = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, median(v)]));
  const mc = Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, median(v)]));
  const res = {
    model: 'mobilenet_v2',
    bytes: model.length,
    reps,
    plainMs: m.plain,
    sealedMs: m.sealed,
    signedMs: m.signed,
    decryptMs: m.decrypt,
    sealedRatio: m.sealed / m.plain,
    signedRatio: m.signed / m.plain,
    cpuMs: mc,
    sealedCpuRatio: mc.sealed / mc.plain,
    signedCpuRatio: mc.signed / mc.plain,
  };
  table(`Sealed model load overhead: mobilenet_v2 InferenceSession.create, median of ${reps} interleaved loads (target sealed/plain ≤ 1.05)`, [
    { time: 'wall', 'plain ms': fmt(m.plain, 1), 'sealed ms': fmt(m.sealed, 1), 'sealed/plain': fmt(res.sealedRatio, 3), 'sealed+signed ms': fmt(m.signed, 1), 'signed/plain': fmt(res.signedRatio, 3), 'decrypt only ms': fmt(m.decrypt, 1) },
    { time: 'cpu', 'plain ms': fmt(mc.plain, 1), 'sealed ms': fmt(mc.sealed, 1), 'sealed/plain': fmt(res.sealedCpuRatio, 3), 'sealed+signed ms': fmt(mc.signed, 1), 'signed/plain': fmt(res.signedCpuRatio, 3), 'decrypt only ms': fmt(mc.decrypt, 1) },
  ]);
  return { seal: res };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await run();
  if (json) console.log(JSON.stringify(r));
}
