// Sealed-model load overhead on a FIRST load (issue 19), next to bench/seal.bench.js's warm loads: each load runs
// in a fresh Node process (what an app does once at start-up), so V8 has compiled nothing of the load path yet, the
// kernel worker and the crypto thread boot during it, and no earlier load's garbage or warm allocator is around.
// Per round, in a fresh shuffled order: mobilenet_v2 from plain bytes, sealed bytes (v4, the default), signed bytes
// (+ Ed25519 verify key), a plain file and a sealed file, each in its own child process. In the child, importing
// edgeq and reading the bytes (for the byte cases) are not timed; `create` is InferenceSession.create, `first output`
// is create plus one run (the time until the app has a result). Medians, and medians of per-round ratios against
// the plain case of the same round. (Not part of bench/run.js: ~60 child processes.)
//   EDGEQ_DATA=… node bench/seal-cold.js [rounds=15]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { sealModel } from '../dist/formats/sealed.js';
import { generateContentKey, generateSigningKeyPair } from '../dist/formats/sealed-keys.js';
import { dataFile, fmt, table } from './common.js';

const CHILD = `
import { readFileSync } from 'node:fs';
const [dist, how, file, keyHex, pub] = process.argv.slice(1);
const { InferenceSession, Tensor } = await import(dist);
const bytes = how === 'bytes' ? new Uint8Array(readFileSync(file)) : undefined;
const opts = keyHex ? { decryptionKey: Uint8Array.from(Buffer.from(keyHex, 'hex')), ...(pub ? { verifyKey: readFileSync(pub, 'utf8') } : {}) } : {};
const x = new Tensor('float32', new Float32Array(3 * 224 * 224).fill(0.5), [1, 3, 224, 224]);
const t0 = performance.now();
const s = await InferenceSession.create(bytes ?? file, opts);
const t1 = performance.now();
await s.run({ [s.inputNames[0]]: x });
const t2 = performance.now();
console.log(JSON.stringify({ create: t1 - t0, first: t2 - t0 }));
process.exit(0);
`;

const path = dataFile('bench/mobilenet_v2.onnx');
if (!path) {
  console.log('no mobilenet_v2.onnx (set EDGEQ_DATA)');
  process.exit(process.env.CI ? 1 : 0);
}
const rounds = Number(process.argv[2] ?? 15);
const dist = new URL('../dist/index.js', import.meta.url).href;
const model = new Uint8Array(readFileSync(path));
const key = generateContentKey();
const kp = await generateSigningKeyPair('ed25519');
const dir = mkdtempSync(join(tmpdir(), 'edgeq-seal-cold-'));
const keyHex = Buffer.from(key).toString('hex');
try {
  const files = { sealed: join(dir, 'm.eqs'), signed: join(dir, 'm.signed.eqs'), pub: join(dir, 'pub.pem') };
  writeFileSync(files.sealed, await sealModel(model, { key }));
  writeFileSync(files.signed, await sealModel(model, { key, signingKey: kp.privatePem }));
  writeFileSync(files.pub, kp.publicPem);
  const cases = {
    plain: ['bytes', path],
    sealed: ['bytes', files.sealed, keyHex],
    signed: ['bytes', files.signed, keyHex, files.pub],
    plainFile: ['file', path],
    sealedFile: ['file', files.sealed, keyHex],
  };
  const t = Object.fromEntries(Object.keys(cases).map((k) => [k, { create: [], first: [] }]));
  const load0 = loadavg()[0];
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const order = Object.entries(cases);
  for (let r = 0; r < rounds; r++) {
    for (let j = order.length - 1; j > 0; j--) {
      const i = Math.floor(rand() * (j + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    for (const [k, args] of order) {
      const out = execFileSync(process.execPath, ['--input-type=module', '-e', CHILD, dist, ...args, ...(args.length < 4 ? [''] : [])], { encoding: 'utf8' });
      const m = JSON.parse(out.trim().split('\n').pop());
      t[k].create.push(m.create);
      t[k].first.push(m.first);
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const paired = (k, base, what) => median(t[k][what].map((x, i) => x / t[base][what][i]));
  const rows = ['create', 'first'].map((what) => ({
    time: what === 'create' ? 'create (ms)' : 'first output (ms)',
    plain: fmt(median(t.plain[what]), 1),
    sealed: fmt(median(t.sealed[what]), 1),
    'sealed/plain': fmt(paired('sealed', 'plain', what), 3),
    signed: fmt(median(t.signed[what]), 1),
    'signed/plain': fmt(paired('signed', 'plain', what), 3),
    'plain file': fmt(median(t.plainFile[what]), 1),
    'sealed file': fmt(median(t.sealedFile[what]), 1),
    'file sealed/plain': fmt(paired('sealedFile', 'plainFile', what), 3),
  }));
  table(`Sealed model FIRST load: mobilenet_v2, one fresh process per load, ${rounds} rounds (medians; ratios = medians of per-round ratios; load average ${fmt(load0, 1)} → ${fmt(loadavg()[0], 1)})`, rows);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
