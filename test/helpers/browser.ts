// Headless Chromium (Debian's /usr/bin/chromium through playwright-core) and esbuild bundles for the
// browser tests of test/runtimes/ and test/web/. Like test/split/browser.test.ts, a missing Chromium or
// build skips locally and fails under CI.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve, sep } from 'node:path';

export const root = resolve(import.meta.dirname, '../..');
export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Why the browser tests cannot run (undefined: they can). Throws under CI instead of skipping. */
export function browserBlocker(name: string, needs: string[] = []): string | undefined {
  const built = existsSync(join(root, 'dist', 'index.js')) && existsSync(join(root, 'dist', 'platform', 'web.js'));
  const why = !built ? `no build at ${join(root, 'dist')} (run npm run build first)` : !existsSync(chromiumPath) ? `no Chromium at ${chromiumPath}` : needs.find((n) => !existsSync(n));
  if (!why) return undefined;
  if (process.env.CI) throw new Error(`${name} cannot run under CI: ${why}`);
  console.warn(`[skip] ${name}: ${why}`);
  return why;
}

/**
 * A throw-away app folder whose node_modules/edgeq is this repository (as an installed package would be,
 * resolved through package.json "exports"/"imports"), with the given source files.
 */
export function appDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'edgeq-app-'));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(root, join(dir, 'node_modules', 'edgeq'), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/** `esbuild <entry> --bundle --platform=browser --outfile=<out> [extra]`: the CLI exactly as an app would run it. */
export function esbuild(dir: string, entry: string, out: string, extra: string[] = []): string {
  const bin = join(root, 'node_modules', '.bin', 'esbuild');
  return execFileSync(bin, [entry, '--bundle', '--platform=browser', `--outfile=${out}`, ...extra], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

const TYPES: Record<string, string> = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css', '.map': 'application/json', '.wasm': 'application/wasm', '.html': 'text/html', '.json': 'application/json', '.png': 'image/png' };

/**
 * Serve folders on 127.0.0.1: `mounts` maps a URL prefix ('/' or '/models/') to a directory. `isolated`: every
 * response carries COOP same-origin + COEP require-corp, so pages are crossOriginIsolated (SharedArrayBuffer, threads).
 */
export function serve(mounts: Record<string, string>, isolated = false): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname);
    const prefix = Object.keys(mounts)
      .sort((a, b) => b.length - a.length)
      .find((p) => path.startsWith(p));
    const send = (code: number, type: string, body: string | Buffer) => {
      const coi = isolated ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' } : {};
      res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store', ...coi });
      res.end(body);
    };
    if (prefix === undefined) return send(404, 'text/plain', 'not found');
    const base = resolve(mounts[prefix]!);
    let file = normalize(join(base, path.slice(prefix.length)));
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!(file === base || file.startsWith(base + sep)) || !existsSync(file) || !statSync(file).isFile()) return send(404, 'text/plain', 'not found');
    send(200, TYPES[extname(file)] ?? 'application/octet-stream', readFileSync(file));
  });
  return new Promise((res, rej) => {
    server.once('error', rej);
    server.listen(0, '127.0.0.1', () => res({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }));
  });
}

export type Browser = import('playwright-core').Browser;
export type Page = import('playwright-core').Page;

/** Chromium plus a page whose console and errors are collected into `logs`. */
export async function openPage(): Promise<{ browser: Browser; page: Page; logs: string[] }> {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
  const page = await browser.newPage();
  const logs: string[] = [];
  page.on('console', (m) => logs.push(`[console.${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`[pageerror] ${e.message}`));
  return { browser, page, logs };
}
