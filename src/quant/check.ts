/**
 * Structural check for produced models (what onnx.checker looks at, plus the quantization rules):
 * nodes topologically sorted with every input defined before use, single assignment, known ops whose
 * domains are imported at a sufficient opset, every node's types/shapes valid (each op's inferShape),
 * declared output types matching the inferred ones, and Q/DQ parameter rules (float32 scales > 0 and finite,
 * zero points of the quantized type, per-axis lengths).
 */
import { ModelFormatError } from '../errors.js';
import type { Graph } from '../ir/graph.js';
import { analyze } from '../ir/infer.js';
import { getOp } from '../ir/registry.js';
import '../ops/index.js';
import { newestFormOpset } from '../formats/onnx/legacy/index.js';
import { floats } from '../ops/util.js';

export interface CheckIssue {
  node?: string;
  message: string;
}

/** Opset each domain needs for the node forms edgeq writes (Q/DQ per-axis parameters need ai.onnx 13). */
const MIN_OPSET: Record<string, number> = { '': 13, 'com.microsoft': 1 };

export function checkModel(g: Graph): CheckIssue[] {
  const issues: CheckIssue[] = [];
  const defined = new Set<string>([...g.inputs.map((i) => i.name), ...g.initializers.keys()]);
  const produced = new Set<string>();
  const nodeNames = new Set<string>();
  for (const n of g.nodes) {
    if (nodeNames.has(n.name)) issues.push({ node: n.name, message: `node name '${n.name}' is used twice` });
    nodeNames.add(n.name);
    for (const x of n.inputs) if (x && !defined.has(x)) issues.push({ node: n.name, message: `input '${x}' is used before it is defined (nodes must be topologically sorted)` });
    for (const y of n.outputs) {
      if (!y) continue;
      if (defined.has(y) || produced.has(y)) issues.push({ node: n.name, message: `value '${y}' is assigned twice` });
      produced.add(y);
      defined.add(y);
    }
    if (!getOp(n.domain, n.op)) issues.push({ node: n.name, message: `unknown op ${n.domain || 'ai.onnx'}::${n.op}` });
    const dom = n.domain === 'ai.onnx' ? '' : n.domain;
    const need = MIN_OPSET[dom] ?? 1;
    // the writer raises ai.onnx to at least newestFormOpset(); other domains must be imported explicitly
    const have = dom === '' ? Math.max(g.opsets[''] ?? 0, newestFormOpset('')) : (g.opsets[dom] ?? 0);
    if (have < need) issues.push({ node: n.name, message: `domain '${dom || 'ai.onnx'}' must be imported at opset ≥ ${need} (have ${g.opsets[dom] ?? 'none'})` });
  }
  // INT4/UINT4 values exist from ai.onnx opset 21 (IR version 10) on
  const have = Math.max(g.opsets[''] ?? 0, newestFormOpset(''));
  for (const [name, t] of g.initializers)
    if ((t.type === 'int4' || t.type === 'uint4') && have < 21) {
      issues.push({ message: `initializer '${name}' is ${t.type}, which needs ai.onnx opset ≥ 21 (have ${have})` });
      break;
    }
  for (const o of g.outputs) if (!defined.has(o.name)) issues.push({ message: `graph output '${o.name}' is never produced` });
  if (issues.length) return issues;
  let types;
  try {
    types = analyze(g, { fold: false }).types;
  } catch (e) {
    issues.push({ message: (e as Error).message });
    return issues;
  }
  for (const o of g.outputs) {
    const t = types.get(o.name);
    if (t && t.dtype !== o.type.dtype) issues.push({ message: `graph output '${o.name}' is declared ${o.type.dtype} but computed as ${t.dtype}` });
    if (t?.shape && o.type.shape && (t.shape.length !== o.type.shape.length || t.shape.some((d, i) => typeof d === 'number' && typeof o.type.shape![i] === 'number' && d !== o.type.shape![i])))
      issues.push({ message: `graph output '${o.name}' is declared [${o.type.shape.join(',')}] but computed as [${t.shape.join(',')}]` });
  }
  for (const n of g.nodes) {
    if (n.op !== 'QuantizeLinear' && n.op !== 'DequantizeLinear') continue;
    const s = g.initializers.get(n.inputs[1] ?? '');
    if (!s) continue;
    const v = floats(s);
    for (let i = 0; i < v.length; i++) if (!(v[i]! > 0) || !Number.isFinite(v[i]!)) {
      issues.push({ node: n.name, message: `scale[${i}] = ${v[i]} (scales must be finite and > 0)` });
      break;
    }
  }
  return issues;
}

/** checkModel, throwing ModelFormatError listing every problem. */
export function assertValidModel(g: Graph): void {
  const issues = checkModel(g);
  if (issues.length) throw new ModelFormatError(`model check failed:\n${issues.map((i) => `  ${i.node ? `node '${i.node}': ` : ''}${i.message}`).join('\n')}`);
}
