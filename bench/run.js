// npm run bench [-- --quick] [-- --json] [-- --filter REGEX]
// Runs every bench/*.bench.js in one process (so edgeq and onnxruntime-web share the machine state) and
// prints tables with edgeq/ORT ratios; --json prints one JSON object instead.
import { statSync } from 'node:fs';
import { args, json } from './common.js';

const filterIdx = args.indexOf('--filter');
const filter = filterIdx >= 0 ? new RegExp(args[filterIdx + 1]) : /./;
// peak first: the kernel benches report % of it
const order = ['peak', 'gemm', 'gemv', 'conv', 'pool', 'fp16', 'qgemm', 'sparse', 'models', 'threads', 'models-real', 'transformer', 'attention', 'contrib', 'transformer-quant', 'models-int8', 'models-tflite', 'dispatch', 'split', 'vad', 'seal'];
const ctx = {};
for (const name of order) {
  if (name !== 'peak' && !filter.test(name)) continue;
  const mod = await import(`./${name}.bench.js`);
  Object.assign(ctx, await mod.run(ctx));
}
ctx.wasmBytes = statSync(new URL('../dist/edgeq-simd.wasm', import.meta.url)).size;
ctx.relaxedWasmBytes = statSync(new URL('../dist/edgeq-relaxed.wasm', import.meta.url)).size;
if (json) console.log(JSON.stringify(ctx));
else console.log(`\nshipped .wasm: dist/edgeq-simd.wasm ${ctx.wasmBytes} bytes + dist/edgeq-relaxed.wasm ${ctx.relaxedWasmBytes} bytes = ${ctx.wasmBytes + ctx.relaxedWasmBytes} (onnxruntime-web's ort-wasm-simd-threaded.wasm: 14.2 MB); kernels in this run: ${ctx.wasmFlavor}`);
