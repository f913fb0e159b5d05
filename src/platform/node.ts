/**
 * The Node platform (package.json "imports" #platform, "node" condition: Node, Deno, Bun): node:fs for
 * files, node:worker_threads for the pipeline. Static `node:` imports are fine here: only runtimes with
 * them resolve this module.
 */
import { KeyObject, createDecipheriv, createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as wt from 'node:worker_threads';
import { folderSource } from '../formats/onnx/external-node.js';
import type { HostCrypto, OpenedFile, Platform, WorkerScript, WorkerSelf, Workers } from './types.js';

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
  sha256(data) {
    const h = createHash('sha256').update(data).digest();
    return new Uint8Array(h.buffer, h.byteOffset, h.length);
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
