// Bundles the web page's script (web/app.ts -> web/dist/app.js) with esbuild for browsers. Run by
// `npm run build` (after tsc: '#platform' resolves to dist/platform/web.js) and `npm run web`.
import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';

const root = new URL('..', import.meta.url);
const outfile = new URL('web/dist/app.js', root).pathname;
await build({
  entryPoints: [new URL('web/app.ts', root).pathname],
  bundle: true,
  platform: 'browser',
  format: 'esm',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  outfile,
  logLevel: 'warning',
});
const js = readFileSync(outfile);
console.log(`web: web/dist/app.js ${(js.length / 1024).toFixed(1)} KB, ${(gzipSync(js).length / 1024).toFixed(1)} KB gzipped`);
