// Sealed-model load overhead (issue 19): InferenceSession.create on mobilenet_v2 from sealed input (AES-256-GCM;
// and AES + Ed25519 signature checked against a verify key) vs from the plain model, from bytes in memory and
// from a file, interleaved in one process (plain, sealed, signed, plain file, sealed file, …) so all see the same
// machine load; medians and ratios. Target sealed/plain ≤ 1.05.
// Wall time and process CPU time (all threads: WebCrypto runs on libuv's pool) are both reported — on a loaded
// machine the CPU-time ratio is the steadier measure of the work sealing adds. The last column is this runtime's
// WebCrypto AES-256-GCM throughput (model bytes / decrypt-only CPU time): the ratio is set by it. (On the
// development machine Node 20.20's bundled OpenSSL ran AES-GCM at ~0.1–0.2 GB/s, the speed of OpenSSL without
// AES-NI, while the system `openssl speed -evp aes-256-gcm` did 3.8 GB/s on the same CPU.)
//   node bench/seal.bench.js [--quick] [--json]
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
  const dir = mkdtempSync(join(tmpdir(), 'edgeq-seal-bench-'));
  const sealedPath = join(dir, 'mobilenet_v2.onnx.eqs');
  writeFileSync(sealedPath, sealed);
  const cases = {
    plain: () => InferenceSession.create(model),
    sealed: () => InferenceSession.create(sealed, { decryptionKey: key }),
    signed: () => InferenceSession.create(signed, { decryptionKey: key, verifyKey: kp.publicPem }),
    plainFile: () => InferenceSession.create(path),
    sealedFile: () => InferenceSession.create(sealedPath, { decryptionKey: key }),
    decrypt: () => openSealed(sealed, { decryptionKey: key }),
  };
  const reps = quick ? 3 : 15;
  const wall = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  const cpu = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  try {
    for (const f of Object.values(cases)) await timed(f); // warm-up: WASM instantiation, JIT
    for (let r = 0; r < reps; r++) {
      for (const [k, f] of Object.entries(cases)) {
        const t = await timed(f);
        wall[k].push(t.ms);
        cpu[k].push(t.cpu);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const w = Object.fromEntries(Object.entries(wall).map(([k, v]) => [k, median(v)]));
  const c = Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, median(v)]));
  const res = {
    model: 'mobilenet_v2',
    bytes: model.length,
    reps,
    wallMs: w,
    cpuMs: c,
    sealedRatio: w.sealed / w.plain,
    signedRatio: w.signed / w.plain,
    fileRatio: w.sealedFile / w.plainFile,
    sealedCpuRatio: c.sealed / c.plain,
    signedCpuRatio: c.signed / c.plain,
    fileCpuRatio: c.sealedFile / c.plainFile,
    aesGcmMBps: model.length / 1e6 / (c.decrypt / 1e3),
  };
  const row = (time, m, r) => ({
    time,
    'plain': fmt(m.plain, 1),
    'sealed': fmt(m.sealed, 1),
    'sealed/plain': fmt(r[0], 3),
    'signed': fmt(m.signed, 1),
    'signed/plain': fmt(r[1], 3),
    'plain file': fmt(m.plainFile, 1),
    'sealed file': fmt(m.sealedFile, 1),
    'file sealed/plain': fmt(r[2], 3),
    'decrypt only': fmt(m.decrypt, 1),
    'AES-GCM MB/s': time === 'cpu' ? fmt(res.aesGcmMBps, 0) : '',
  });
  table(`Sealed model load overhead: mobilenet_v2 InferenceSession.create (ms), median of ${reps} interleaved loads (target sealed/plain ≤ 1.05)`, [
    row('wall', w, [res.sealedRatio, res.signedRatio, res.fileRatio]),
    row('cpu', c, [res.sealedCpuRatio, res.signedCpuRatio, res.fileCpuRatio]),
  ]);
  return { seal: res };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await run();
  if (json) console.log(JSON.stringify(r));
}
