// `npm run web`: serves web/ (index.html + the bundle scripts/build-web.mjs made) on http://127.0.0.1:PORT
// (PORT from the environment, default 8080). Static files only; the page does all the work.
import { createServer } from 'node:http';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('../web', import.meta.url));
const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.map': 'application/json', '.css': 'text/css', '.wasm': 'application/wasm' };
const server = createServer((req, res) => {
  let file = normalize(join(dir, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)));
  if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
  if (!file.startsWith(dir + sep) || !existsSync(file)) {
    res.writeHead(404, { 'content-type': 'text/plain' });
    return res.end('not found');
  }
  // COOP + COEP: the page is crossOriginIsolated, so it gets SharedArrayBuffer and kernel threads (env.wasm.numThreads)
  res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream', 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' });
  res.end(readFileSync(file));
});
const port = Number(process.env.PORT ?? 8080);
server.listen(port, '127.0.0.1', () => console.log(`edgeq web page: http://127.0.0.1:${server.address().port}/ (Ctrl-C to stop)`));
