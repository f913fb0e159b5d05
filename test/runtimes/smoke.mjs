// The runtime smoke test, one plain-JS module run unchanged in Node, Deno, Bun (run.mjs) and headless
// Chromium (a page bundled with esbuild; see runtimes.test.ts, which drives all four and compares them).
// It loads an ONNX model (LeNet) and a TFLite model (int8 micro_speech, float hello_world), runs them,
// quantizes LeNet in memory, splits it in two and streams inputs through a two-worker PipelineSession, and
// seals LeNet (AES-256-GCM + Ed25519 / P-256) and opens it again, and runs a conv model at 1 and 2 kernel threads.
// Every output is returned as exact bytes (hex), so the driver can demand bit-identical results across
// runtimes; the plain SIMD build is used everywhere (env.wasm.relaxedSimd = false: relaxed SIMD's fused
// multiply-add is allowed to differ from the plain build in the last bits, and only V8 has it).

/** deterministic float input in [-1, 1] */
function floats(n, k) {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.731 + k * 1.37) * Math.cos(i * 0.113));
}

function hex(t) {
  const b = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  let s = '';
  for (const v of b) s += v.toString(16).padStart(2, '0');
  return { type: t.type, dims: [...t.dims], hex: s };
}

/**
 * @param edgeq the package's exports (import * as edgeq from 'edgeq')
 * @param models { lenet, microSpeech, helloWorld }: model bytes (Uint8Array)
 * @param opts { workerUrl?: URL } the stage worker script (bundled apps pass their bundle of 'edgeq/worker')
 */
export async function smoke(edgeq, models, opts = {}) {
  const { InferenceSession, Tensor, env, quantize, readModel, split, PipelineSession, writeOnnx } = edgeq;
  env.wasm.relaxedSimd = false;
  const r = { env: { version: env.version, platform: env.platform, simd: env.wasm.simd, relaxedSimd: env.wasm.relaxedSimd, relaxedSimdSupported: env.wasm.relaxedSimdSupported, numThreads: env.wasm.numThreads } };

  // 1. ONNX from bytes, and the same model from a Blob and a Response (every runtime here has both)
  const x = new Tensor('float32', floats(2 * 784, 0), [2, 1, 28, 28]);
  const lenet = await InferenceSession.create(models.lenet);
  r.onnx = hex((await lenet.run({ input: x })).logits);
  const fromBlob = await InferenceSession.create(new Blob([models.lenet]));
  const fromResponse = await InferenceSession.create(new Response(models.lenet));
  r.sourcesAgree = [fromBlob, fromResponse].every((s) => s.runSync({ input: x }).logits.data.every((v, i) => Object.is(v, lenet.runSync({ input: x }).logits.data[i])));

  // 2. TFLite: int8 (QLinearConv, QGemm, int8 softmax) and float
  const speech = await InferenceSession.create(models.microSpeech.buffer.slice(models.microSpeech.byteOffset, models.microSpeech.byteOffset + models.microSpeech.byteLength));
  const si = new Tensor('int8', Int8Array.from({ length: 1960 }, (_, i) => ((i * 37) % 256) - 128), [1, 1960]);
  r.tfliteInt8 = hex((await speech.run({ [speech.inputNames[0]]: si }))[speech.outputNames[0]]);
  const hello = await InferenceSession.create(models.helloWorld);
  r.tfliteFloat = hex((await hello.run({ [hello.inputNames[0]]: new Tensor('float32', new Float32Array([1.25]), [1, 1]) }))[hello.outputNames[0]]);

  // 3. quantize in memory (static, calibrated on 16 deterministic inputs), run, serialize
  const graph = readModel(models.lenet);
  const q = await quantize(graph, { mode: 'static', calib: new Tensor('float32', floats(16 * 784, 7), [16, 1, 28, 28]) });
  const qs = await InferenceSession.create(q.graph);
  r.quantized = hex((await qs.run({ input: x })).logits);
  r.quantizedBytes = writeOnnx(q.graph).length;

  // 4. split in two, run a two-worker pipeline; also the whole model on the same inputs in this thread
  const { parts } = split(graph, { parts: 2 });
  const p = await PipelineSession.create(parts, opts.workerUrl ? { workerUrl: opts.workerUrl } : {});
  const inputs = [0, 1, 2].map((k) => ({ input: new Tensor('float32', floats(784, k + 10), [1, 1, 28, 28]) }));
  r.pipeline = [];
  r.pipelineMatchesWhole = true;
  let k = 0;
  for await (const out of p.runStream(inputs)) {
    const whole = lenet.runSync(inputs[k++]).logits;
    r.pipeline.push(hex(out.logits));
    if (hex(whole).hex !== hex(out.logits).hex) r.pipelineMatchesWhole = false;
  }
  r.pipelineStages = p.stages;
  await p.close();

  // 5. sealed models (WebCrypto only): LeNet sealed with AES-256-GCM and an Ed25519 / ECDSA P-256 signature opens
  // with its keys to the same logits; one flipped byte near the end is a SealError
  const { sealModel, generateContentKey, generateSigningKeyPair, SealError } = edgeq;
  r.sealed = {};
  for (const alg of ['ed25519', 'ecdsa-p256']) {
    const key = generateContentKey();
    const kp = await generateSigningKeyPair(alg);
    const sealed = await sealModel(models.lenet, { key, signingKey: kp.privatePem });
    let verified = false;
    const s = await InferenceSession.create(sealed, { decryptionKey: key, verifyKey: kp.publicPem, onModelLoaded: (e) => (verified = e.verified) });
    const bad = sealed.slice();
    bad[bad.length - 100] ^= 1;
    const tampered = await InferenceSession.create(bad, { decryptionKey: key }).then(
      () => 'loaded',
      (e) => (e instanceof SealError ? e.reason : String(e)),
    );
    r.sealed[alg] = { same: hex((await s.run({ input: x })).logits).hex === r.onnx.hex, verified, tampered };
  }

  // 6. kernel threads: a 3×3 conv big enough to split (24→32 channels on 40×40, 11 M multiply-adds), then a
  // pointwise and a depthwise one, at numThreads 1 and 2 over the shared kernel memory; outputs must be the same bits
  const { Graph } = edgeq;
  const cg = new Graph();
  cg.inputs = [{ name: 'X', type: { dtype: 'float32', shape: [1, 24, 40, 40] } }];
  cg.initializers.set('W', new Tensor('float32', floats(32 * 24 * 9, 3), [32, 24, 3, 3]));
  cg.initializers.set('B', new Tensor('float32', floats(32, 4), [32]));
  cg.initializers.set('W2', new Tensor('float32', floats(64 * 32, 5), [64, 32, 1, 1]));
  cg.initializers.set('W3', new Tensor('float32', floats(64 * 9, 6), [64, 1, 3, 3]));
  const conv = (name, inputs, output, attrs) => cg.nodes.push({ name, op: 'Conv', domain: '', inputs, outputs: [output], attrs });
  conv('c1', ['X', 'W', 'B'], 'T1', { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
  conv('c2', ['T1', 'W2'], 'T2', { kernel_shape: [1, 1] });
  conv('c3', ['T2', 'W3'], 'Y', { kernel_shape: [3, 3], group: 64, pads: [1, 1, 1, 1] });
  cg.outputs = [{ name: 'Y', type: { dtype: 'float32' } }];
  const cx = { X: new Tensor('float32', floats(24 * 1600, 8), [1, 24, 40, 40]) };
  const t1 = await InferenceSession.create(cg, { numThreads: 1 });
  const t2 = await InferenceSession.create(cg, { numThreads: 2 });
  const one = hex((await t1.run(cx)).Y);
  const sha = async (h) => hex({ type: 'sha256', dims: [32], data: new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(h.hex))) }).hex;
  r.threads = { numThreads: t2.numThreads, dims: one.dims, sha256: await sha(one), same: hex((await t2.run(cx)).Y).hex === one.hex };
  await t1.release();
  await t2.release();
  return r;
}
