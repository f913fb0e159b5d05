import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { EdgeqError } from '../errors.js';
import { readOnnx } from '../formats/onnx/reader.js';
import { readSequenceProto, readTensorProto } from '../formats/onnx/test-data.js';
import { TensorSequence, type Value } from '../tensor/sequence.js';
import { InferenceSession } from '../runtime/session.js';
import { f16ToF32 } from '../tensor/fp16.js';
import { isMiniFloat, miniToNumber } from '../tensor/minifloat.js';
import type { Tensor } from '../tensor/tensor.js';

export const SUITES = ['node', 'simple', 'pytorch-converted', 'pytorch-operator'] as const;
export type Suite = (typeof SUITES)[number];

export interface CaseResult {
  suite: string;
  name: string;
  ok: boolean;
  /** op types used by the model (for per-op counts) */
  ops: string[];
  message?: string;
}

/** Where the shared data lives: $EDGEQ_DATA, else ../shared/models relative to the working directory. */
export function dataDir(): string {
  return process.env.EDGEQ_DATA ?? join(process.cwd(), '..', 'shared', 'models');
}

export function listCases(suite: string, root = join(dataDir(), 'onnx-conformance')): string[] {
  const dir = join(root, suite);
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((d) => existsSync(join(dir, d, 'model.onnx'))).sort();
}

/** Tolerance of the ONNX backend test runner: |got - want| <= atol + rtol * |want|. */
export function compareTensors(got: Tensor, want: Tensor, rtol = 1e-3, atol = 1e-7): string | undefined {
  if (got.type !== want.type) return `dtype ${got.type}, expected ${want.type}`;
  if (got.dims.length !== want.dims.length || got.dims.some((d, i) => d !== want.dims[i])) return `shape [${got.dims}], expected [${want.dims}]`;
  const mini = isMiniFloat(got.type) ? got.type : undefined;
  const isF = got.type === 'float32' || got.type === 'float64' || got.type === 'float16' || !!mini;
  for (let i = 0; i < want.size; i++) {
    let a: unknown = got.data[i];
    let b: unknown = want.data[i];
    if (got.type === 'float16') {
      a = f16ToF32(a as number);
      b = f16ToF32(b as number);
    } else if (mini) {
      // narrow floats compare as values (every NaN code is NaN)
      a = miniToNumber(mini, a as number);
      b = miniToNumber(mini, b as number);
    }
    if (isF) {
      const x = a as number;
      const y = b as number;
      if (Number.isNaN(y) ? !Number.isNaN(x) : !(x === y || Math.abs(x - y) <= atol + rtol * Math.abs(y)))
        return `element ${i}: got ${x}, expected ${y}`;
    } else if (a !== b) return `element ${i}: got ${String(a)}, expected ${String(b)}`;
  }
  return undefined;
}

/** Compare sequences element by element (same length, each tensor within tolerance). */
export function compareSequences(got: TensorSequence, want: TensorSequence): string | undefined {
  if (got.length !== want.length) return `sequence length ${got.length}, expected ${want.length}`;
  for (let i = 0; i < want.length; i++) {
    const bad = compareTensors(got.tensors[i]!, want.tensors[i]!);
    if (bad) return `sequence element ${i}: ${bad}`;
  }
  return undefined;
}

/** Run one backend-test folder: model.onnx against every test_data_set_N. */
export async function runCase(suite: string, name: string, root = join(dataDir(), 'onnx-conformance')): Promise<CaseResult> {
  const dir = join(root, suite, name);
  let ops: string[] = [];
  try {
    const bytes = new Uint8Array(readFileSync(join(dir, 'model.onnx')));
    const graph = readOnnx(bytes);
    ops = [...new Set(graph.nodes.map((n) => n.op))];
    const session = await InferenceSession.create(graph);
    const sets = readdirSync(dir).filter((d) => d.startsWith('test_data_set_')).sort();
    if (!sets.length) return { suite, name, ok: false, ops, message: 'no test data' };
    for (const set of sets) {
      const feeds: Record<string, Value> = {};
      session.inputNames.forEach((inName, k) => {
        const f = join(dir, set, `input_${k}.pb`);
        const it = session.graph.inputs[k]?.type;
        if (existsSync(f)) feeds[inName] = it?.sequence ? readSequenceProto(new Uint8Array(readFileSync(f)), f, it.dtype) : readTensorProto(new Uint8Array(readFileSync(f)), f);
      });
      const outs = await session.run(feeds as Record<string, Tensor>);
      for (let k = 0; k < session.outputNames.length; k++) {
        const f = join(dir, set, `output_${k}.pb`);
        if (!existsSync(f)) continue;
        const got: Value = outs[session.outputNames[k]!]!;
        const bad = got instanceof TensorSequence ? compareSequences(got, readSequenceProto(new Uint8Array(readFileSync(f)), f, got.elemType)) : compareTensors(got, readTensorProto(new Uint8Array(readFileSync(f)), f));
        if (bad) return { suite, name, ok: false, ops, message: `${set} output '${session.outputNames[k]}': ${bad}` };
      }
    }
    return { suite, name, ok: true, ops };
  } catch (e) {
    const kind = e instanceof EdgeqError ? e.name : `UNEXPECTED ${(e as Error)?.name}`;
    return { suite, name, ok: false, ops, message: `${kind}: ${(e as Error)?.message}` };
  }
}
