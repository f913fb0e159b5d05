// Runs smoke.mjs against the built package (dist/) in whatever runtime executes this file: Node, Deno
// (`deno run --allow-read`) or Bun. Usage: <runtime> test/runtimes/run.mjs <models dir>; prints the result as JSON.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as edgeq from '../../dist/index.js';
import { smoke } from './smoke.mjs';

const dir = (globalThis.Deno ? globalThis.Deno.args : process.argv.slice(2))[0];
const read = (rel) => new Uint8Array(readFileSync(join(dir, rel)));
const models = { lenet: read('mnist/lenet.onnx'), microSpeech: read('tflite/micro_speech_quantized.tflite'), helloWorld: read('tflite/hello_world_float.tflite') };
const r = await smoke(edgeq, models);
r.runtime = globalThis.Deno ? `deno ${globalThis.Deno.version.deno}` : globalThis.Bun ? `bun ${globalThis.Bun.version}` : `node ${process.versions.node}`;
console.log(JSON.stringify(r));
// the pipeline's worker ports may keep some runtimes alive
if (globalThis.Deno) globalThis.Deno.exit(0);
else process.exit(0);
