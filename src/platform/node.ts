/**
 * The Node platform (package.json "imports" #platform, "node" condition: Node, Deno, Bun): node:fs for
 * files, node:worker_threads for the pipeline. Static `node:` imports are fine here: only runtimes with
 * them resolve this module.
 */
import { KeyObject, createDecipheriv, createHash, createPublicKey, createSecretKey, verify as nodeVerify } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as wt from 'node:worker_threads';
import { folderSource } from '../formats/onnx/external-node.js';
import type { GcmThreadJob, GcmThreadSlot, HostCrypto, OpenedFile, Platform, WorkerScript, WorkerSelf, Workers } from './types.js';

/** The compiled worker, or (from a source checkout) its TypeScript source run through tsx. */
function workerSpec(s: WorkerScript): { script: URL | string; eval: boolean } {
  const { js, ts } = s;
  if (js.protocol !== 'file:' || existsSync(fileURLToPath(js)) || !ts) return { script: js, eval: false };
  if (!existsSync(fileURLToPath(ts))) throw new Error(`worker script not found: ${fileURLToPath(js)}`);
  let api: string;
  try {
    // the ESM entry of tsx's API (require.resolve would pick the CJS one)
    const pkgPath = createRequire(ts).resolve('tsx/package.json');
    const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { exports: Record<string, { import?: { default?: string } }> };
    api = pathToFileURL(join(dirname(pkgPath), pkg.exports['./esm/api']!.import!.default!)).href;
  } catch {
    throw new Error(`running workers from TypeScript sources needs tsx (or build first: ${fileURLToPath(js)} is missing)`);
  }
  const code = `import(${JSON.stringify(api)}).then((m) => m.tsImport(${JSON.stringify(ts.href)}, ${JSON.stringify(ts.href)}))`;
  return { script: code, eval: true };
}

async function workers(s: WorkerScript): Promise<Workers> {
  const spec = workerSpec(s);
  return {
    kind: 'node',
    channel: () => new wt.MessageChannel(),
    spawn(init, ports, ev, name) {
      const w = new wt.Worker(spec.script, { eval: spec.eval, workerData: init, transferList: ports as wt.MessagePort[], name });
      w.once('exit', (code) => ev.exit(code));
      w.on('error', (e) => ev.error(e));
      w.on('message', (m) => ev.message(m));
      return w;
    },
  };
}

async function workerSelf(): Promise<WorkerSelf> {
  const port = wt.parentPort;
  if (!port) throw new Error('not inside a worker');
  return {
    init: wt.workerData,
    postMessage: (m, t) => port.postMessage(m, t),
    onMessage: (fn) => port.on('message', fn),
  };
}

const SLICE = 1 << 18;

// ---- the crypto thread (HostCrypto.gcmThread; sealed files of version 3, formats/sealed.ts) ----
// One persistent worker_thread, started by the first call and unref'd, driven through shared memory: the loading
// thread is busy building the session and blocks in Atomics.wait for a segment it needs, then takes the segment's
// weights (transferred: no copy) from the channel with receiveMessageOnPort — no event-loop round trip either way.
// ctrl: [0] doorbell (bumped per message posted), [1] state: -1 starting, 0 idle, 1 claimed / working, 2 done with the
// last job's shared words (tidying up; a new load may claim it). The first load in a process starts it and claims it.
const GCM_WORKER = `
const { workerData, receiveMessageOnPort } = require('node:worker_threads');
const { createDecipheriv, createHash } = require('node:crypto');
const { readSync, readFileSync, readlinkSync } = require('node:fs');
const { getPriority, setPriority } = require('node:os');
const { port } = workerData;
const c = new Int32Array(workerData.ctrl);
let junk;
// (an experiment, sealTrace.cryptoNice) this thread's own nice value raised by job.nice over the process's: on Linux
// setpriority with a thread id sets that thread's alone. Raising it again needs privilege, so a change sticks.
let tid, niced = 0;
try { tid = Number(readlinkSync('/proc/thread-self').split('/').pop()); } catch {}
function niceBy(n) {
  if (!(n > niced) || !tid) return;
  try { setPriority(tid, Math.min(19, getPriority(tid) + n - niced)); niced = n; } catch {}
}
function job(m) {
  const { id, key, input, state, cv, ctl, ivs, aads, stAt, ptAt, lens, segG, segW, wOff, wLen, times, fd, fileAt, blocks, hs, rt, byRead } = m;
  niceBy(m.nice);
  const now = () => performance.timeOrigin + performance.now();
  // (tracing) this thread's CPU time, ms (Linux)
  const cpu = () => { try { return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e6; } catch { return NaN; } };
  // (a test hook, sealTrace.holdCrypto) ctl[5] = 1: wait until the loading thread lets go — or stops the job, or 10 s pass
  for (const t0 = Date.now(); Atomics.load(ctl, 5) === 1 && !Atomics.load(ctl, 0) && Date.now() - t0 < 10000; ) Atomics.wait(ctl, 5, 1, 50);
  if (times) { times[0] = now(); times[times.length - 2] = cpu(); }
  const nseg = segG.length;
  // the last chunk decrypted here (authenticated): a weight crossing into the next segment's first chunk needs it again.
  // An authenticated chunk's plaintext is not wiped when dropped: it is a copy of weights the process holds anyway (a
  // process holding the key can read them, docs/sealed-format.md; its memset was ≈ 0.4 ms a job, session 17)
  let cached = -1, cp = null;
  const chunk = (k) => {
    if (k === cached) return cp;
    cached = -1;
    cp = null;
    const st = stAt[k], len = lens[k];
    // (a file's chunk is read once: what input holds of it never changes after, so its digest is of what was decrypted)
    if (fd !== undefined && !Atomics.load(rt, k)) {
      let got = 0;
      try {
        for (let n = 1; got < len + 16 && n > 0; got += n) n = readSync(fd, input, st + got, len + 16 - got, fileAt + st + got);
      } catch {}
      if (got !== len + 16) return 5;
      Atomics.store(rt, k, 1);
    }
    const d = createDecipheriv('aes-256-gcm', key, ivs[k], { authTagLength: 16 });
    d.setAAD(aads[k]);
    d.setAuthTag(input.subarray(st + len, st + len + 16));
    const p = d.update(input.subarray(st, st + len));
    // (plaintext whose tag failed is never used, and wiped)
    try { d.final(); } catch { p.fill(0); return 4; }
    Atomics.store(cv, k, 1);
    cached = k;
    cp = p;
    return p;
  };
  // the signature's digests of the stored chunks, block b = input[blocks[b], blocks[b + 1]) (hs[b]: 0 → 1 claimed → 2
  // done): a block is hashed once every chunk it overlaps was authenticated (byRead, version 4 from a file: read here,
  // so that input holds this thread's one read of it): with hashAhead, between segments while the session build —
  // which publishes the furthest segment it asked for in ctl[4] — is that many chunks behind; the rest (all, without
  // it) after the last segment
  const nb = blocks && blocks.length > 1 ? blocks.length - 1 : 0, K = lens.length;
  // k0[b]: the first weight chunk that ends after block b starts (chunk 0, before every weight chunk, is always there)
  const k0 = new Int32Array(nb);
  for (let b = 0, k = 0; b < nb; b++) {
    while (k < K && stAt[k] + lens[k] + 16 <= blocks[b]) k++;
    k0[b] = k;
  }
  const ready = (b) => {
    for (let k = k0[b]; k < K && stAt[k] < blocks[b + 1]; k++) if (!Atomics.load(byRead ? rt : cv, k)) return false;
    return true;
  };
  const hashReady = (all) => {
    for (let b = 0; b < nb && !Atomics.load(ctl, 0); b++) {
      if (Atomics.load(hs, b) !== 0) continue;
      if (!ready(b)) {
        if (all) continue;
        break;
      }
      if (Atomics.compareExchange(hs, b, 0, 1) !== 0) continue;
      m.digests.set(createHash('sha256').update(input.subarray(blocks[b], blocks[b + 1])).digest(), b * 32);
      Atomics.store(hs, b, 2);
      Atomics.notify(hs, b);
    }
  };
  for (let s = 0; s < nseg; s++) {
    if (Atomics.load(ctl, 0)) break;
    if (nb && m.hashAhead && s >= Atomics.load(ctl, 4) + m.hashAhead) hashReady(false);
    if (Atomics.compareExchange(state, s, 0, 1) !== 0) continue;
    if (times) times[1 + 2 * s] = now();
    const w0 = segW[s], w1 = segW[s + 1];
    const bufs = [];
    let r = 3;
    try {
      for (let w = w0; w < w1; w++) bufs.push(m.bufs[w]);
      for (let k = s; k <= segG[s] && r === 3; k++) {
        if (w0 === w1 && Atomics.load(cv, k)) continue;
        const p = chunk(k);
        if (typeof p === 'number') { r = p; break; }
        const at = ptAt[k];
        for (let w = w0; w < w1; w++) {
          const a = Math.max(at, wOff[w]), e = Math.min(at + p.length, wOff[w] + wLen[w]);
          if (a < e) bufs[w - w0].set(p.subarray(a - at, e - at), a - wOff[w]);
        }
      }
    } catch { r = 4; }
    if (r === 3 && bufs.length) {
      try { port.postMessage({ id, seg: s, bufs }, bufs.map((b) => b.buffer)); } catch { r = 4; }
    }
    if (r !== 3) for (const b of bufs) if (b.byteLength) b.fill(0);
    if (times) times[2 + 2 * s] = now();
    Atomics.compareExchange(state, s, 1, r);
    Atomics.notify(state, s);
  }
  cp = null;
  if (nb) {
    // the rest: every chunk must have been authenticated (a file's read): wait for the segments the loading thread is on
    for (let s = 0; s < nseg && !Atomics.load(ctl, 0); s++) while (Atomics.load(state, s) === 2 && !Atomics.load(ctl, 0)) Atomics.wait(state, s, 2, 20);
    hashReady(true);
  }
  if (times) { times[times.length - 3] = now(); times[times.length - 1] = cpu(); }
}
// (a load may have claimed the thread while it started: its job is waiting in the channel)
Atomics.compareExchange(c, 1, -1, 0);
for (;;) {
  const seen = Atomics.load(c, 0);
  const r = receiveMessageOnPort(port);
  if (!r) { Atomics.wait(c, 0, seen); continue; }
  try { job(r.message); } catch {}
  // done with the job's shared words: a new load may claim the thread while the scavenge below runs
  Atomics.store(c, 1, 2);
  Atomics.notify(c, 1);
  // a scavenge (young generation: 1 MB) frees the job's decipher outputs and its views of the shared buffers, so the
  // next job's come from malloc's warm memory
  for (let i = 0; i < 40000; i++) junk = [i, i];
  junk = undefined;
  Atomics.compareExchange(c, 1, 2, 0);
}`;

interface GcmThread {
  w: wt.Worker;
  port: wt.MessagePort;
  c: Int32Array;
  kept: (SharedArrayBuffer | undefined)[];
}
let gcmWorker: GcmThread | undefined;
let gcmJobs = 0;
/** shared buffers up to this size are kept for the next load */
const KEEP_SHARED = 1 << 28;

/** what the crypto thread handed over for jobs nobody takes any more (an abandoned load): wiped */
function drain(t: GcmThread, keep?: number): { id: number; seg: number; bufs: Uint8Array[] } | undefined {
  for (let r; (r = wt.receiveMessageOnPort(t.port)); ) {
    const m = r.message as { id: number; seg: number; bufs: Uint8Array[] };
    if (m.id === keep) return m;
    for (const b of m.bufs) b.fill(0);
  }
  return undefined;
}

function gcmThread(): GcmThreadSlot | undefined {
  let t = gcmWorker;
  if (!t) {
    if (!wt.isMainThread || typeof SharedArrayBuffer === 'undefined') return undefined;
    try {
      const ctrl = new SharedArrayBuffer(8);
      const c = new Int32Array(ctrl);
      c[1] = -1;
      const { port1, port2 } = new wt.MessageChannel();
      const execArgv = process.execArgv.filter((a) => !a.startsWith('--input-type'));
      const w = new wt.Worker(GCM_WORKER, { eval: true, workerData: { ctrl, port: port2 }, transferList: [port2], name: 'edgeq-crypto', execArgv, resourceLimits: { maxYoungGenerationSizeMb: 1 } });
      w.unref();
      port1.unref();
      const nt: GcmThread = { w, port: port1, c, kept: [] };
      const gone = () => {
        if (gcmWorker === nt) gcmWorker = undefined;
      };
      w.on('error', gone);
      w.on('exit', gone);
      gcmWorker = nt;
      t = nt;
    } catch {
      // no worker here: every load decrypts on its own thread
      return undefined;
    }
  }
  // the last job may be finishing this very moment (its loader returned as its last segment was handed over)
  if (Atomics.load(t.c, 1) === 1) Atomics.wait(t.c, 1, 1, 1);
  // (-1: still starting — the first load in a process claims it anyway: its job waits in the channel while the loading
  // thread does the segments it needs itself, and the thread joins in once it runs)
  if (Atomics.compareExchange(t.c, 1, 0, 1) !== 0 && Atomics.compareExchange(t.c, 1, 2, 1) !== 2 && Atomics.compareExchange(t.c, 1, -1, 1) !== -1) return undefined;
  drain(t);
  const id = ++gcmJobs;
  let open = true;
  return {
    shared(which, n) {
      const have = t.kept[which];
      if (have && have.byteLength >= n) return new Uint8Array(have, 0, n);
      const b = new SharedArrayBuffer(Math.max(n, 8));
      if (n <= KEEP_SHARED) t.kept[which] = b;
      return new Uint8Array(b, 0, n);
    },
    post(job: GcmThreadJob, transfer?: ArrayBuffer[]) {
      if (!open) return;
      open = false;
      t.port.postMessage({ ...job, id }, transfer ?? []);
      Atomics.add(t.c, 0, 1);
      Atomics.notify(t.c, 0);
    },
    cancel() {
      if (open) Atomics.store(t.c, 1, 0);
      open = false;
    },
    take: () => drain(t, id),
  };
}

/** node:crypto for sealed models (see HostCrypto). Deno and Bun take this module too: any gap there → undefined → WebCrypto. */
const hostCrypto: HostCrypto = {
  aesGcmKey(k) {
    try {
      const ko = KeyObject.from(k);
      return ko.type === 'secret' && ko.symmetricKeySize === 32 ? ko : undefined;
    } catch {
      return undefined;
    }
  },
  aesGcmRawKey(raw) {
    return raw.length === 32 ? createSecretKey(raw) : undefined;
  },
  aesGcmDecryptInto(key, iv, aad, ct, tag, out, at) {
    // node:crypto has no decrypt-into: update() returns a new buffer. In 256 KiB slices those come from malloc's
    // reused arena (hot, no page faults) instead of a fresh mapping the size of the model, and the only fresh
    // memory written is `out` — where the model reader then finds the weights.
    let o = at;
    const ok = hostCrypto.aesGcmDecryptPieces(key, iv, aad, ct, tag, (p) => {
      out.set(p, o);
      o += p.length;
    });
    if (!ok) out.fill(0, at, at + ct.length);
    return ok;
  },
  aesGcmDecryptPieces(key, iv, aad, ct, tag, sink) {
    const d = createDecipheriv('aes-256-gcm', key as KeyObject, iv, { authTagLength: 16 });
    d.setAAD(aad);
    d.setAuthTag(tag);
    for (let i = 0; i < ct.length; i += SLICE) {
      const p = d.update(ct.subarray(i, Math.min(ct.length, i + SLICE)));
      try {
        if (p.length) sink(p);
      } finally {
        p.fill(0);
      }
    }
    try {
      d.final();
    } catch {
      return false;
    }
    return true;
  },
  gcmThread,
  // its own ArrayBuffer (allocUnsafeSlow never hands out a slice of the shared pool), so it can be transferred
  uninitialized(n) {
    const b = Buffer.allocUnsafeSlow(n);
    return new Uint8Array(b.buffer, b.byteOffset, n);
  },
  sha256(data) {
    const h = createHash('sha256').update(data).digest();
    return new Uint8Array(h.buffer, h.byteOffset, h.length);
  },
  verifyKey(alg, spki) {
    const k = createPublicKey({ key: Buffer.from(spki.buffer, spki.byteOffset, spki.length), format: 'der', type: 'spki' });
    const want = alg === 'ed25519' ? 'ed25519' : 'ec';
    if (k.asymmetricKeyType !== want || (want === 'ec' && k.asymmetricKeyDetails?.namedCurve !== 'prime256v1')) throw new Error('not a key of this algorithm');
    return k;
  },
  verify(alg, key, signature, message) {
    return alg === 'ed25519'
      ? nodeVerify(null, message, key as KeyObject, signature)
      : nodeVerify('sha256', message, { key: key as KeyObject, dsaEncoding: 'ieee-p1363' }, signature);
  },
  sha256Stream() {
    const h = createHash('sha256');
    return {
      update: (d) => void h.update(d),
      digest: () => {
        const b = h.digest();
        return new Uint8Array(b.buffer, b.byteOffset, b.length);
      },
    };
  },
};

async function openFile(p: string): Promise<OpenedFile> {
  const fh = await open(p, 'r');
  try {
    const { size } = await fh.stat();
    return {
      size,
      fd: fh.fd,
      readSync: (into, position) => {
        let got = 0;
        for (let n = 1; got < into.length && n > 0; got += n) n = readSync(fh.fd, into, got, into.length - got, position + got);
        return got;
      },
      read: async (into, position) => {
        let got = 0;
        while (got < into.length) {
          const { bytesRead } = await fh.read(into, got, into.length - got, position + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        return got;
      },
      close: () => fh.close(),
    };
  } catch (e) {
    await fh.close();
    throw e;
  }
}
/**
 * A whole file in as few reads as the OS allows, into one buffer of its size: fs.promises.readFile reads in 512 KiB
 * pieces, each a thread-pool round trip, and grows its result as it goes — a 14 MB model took ~4× as long to open
 * by path as from bytes (bench/seal.bench.js "plain file").
 */
async function readWhole(p: string): Promise<Uint8Array> {
  const f = await openFile(p);
  try {
    const buf = new Uint8Array(f.size);
    const got = await f.read(buf, 0);
    return got === f.size ? buf : buf.subarray(0, got);
  } finally {
    await f.close();
  }
}

function kernelThread(code: string, data: unknown, onExit: () => void): { terminate(): unknown } | undefined {
  // the script is CommonJS: drop an inherited --input-type=module (node -e), keep flags such as relaxed SIMD
  const execArgv = process.execArgv.filter((a) => !a.startsWith('--input-type'));
  const w = new wt.Worker(code, { eval: true, workerData: data, name: 'edgeq-kernels', execArgv });
  w.unref();
  w.on('error', onExit); // a failed thread never reports ready: the pool runs without it
  w.on('exit', onExit);
  return w;
}

function defaultThreads(): number {
  if (!wt.isMainThread || typeof SharedArrayBuffer === 'undefined') return 0;
  return Math.max(1, Math.min(4, availableParallelism()));
}

export const platform: Platform = {
  kind: 'node',
  readFile: readWhole,
  openFile,
  externalDataBeside: (p) => folderSource(dirname(p)),
  join,
  dirname,
  writeFiles(dir, files) {
    mkdirSync(dir, { recursive: true });
    return files.map(({ name, data, mode }) => {
      const f = join(dir, name);
      writeFileSync(f, data, mode !== undefined ? { mode } : undefined);
      return f;
    });
  },
  workers,
  workerSelf,
  crypto: hostCrypto,
  kernelThread,
  defaultThreads,
};
