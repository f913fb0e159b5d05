import { Graph, type Node } from '../graph.js';
import type { Tensor } from '../../tensor/tensor.js';

/**
 * If nodes whose condition folded to a constant become the nodes of the branch it selects (ONNX If: "If conditional
 * … then_branch: Graph to run if condition is true … else_branch: Graph to run if condition is false"). Exported
 * PyTorch models branch on shapes (`if x.dim() == 3`, `if sr == 16000`) inside their bodies; once a body is planned
 * for concrete shapes those conditions are constants, and inlining lets the branch's nodes reach kernels, fusion and
 * the run's flat plan instead of a child plan dispatched per run.
 *
 * ONNX names are unique across a graph and its subgraphs (no shadowing), so the branch's nodes keep their names; a
 * branch whose local names clash with the graph's anyway stays an If. Branch outputs are renamed to the If's outputs
 * where the branch computes them (an Identity where it forwards an outer value, or a nested body reads the name).
 * Returns the new node list, or undefined when no If was inlined. `inits` gains the branches' initializers.
 */
export function inlineConstantIfs(g: Graph, nodes: Node[], inits: Map<string, Tensor>, consts: ReadonlyMap<string, Tensor>): Node[] | undefined {
  const taken = new Set<string>(g.inputs.map((i) => i.name));
  for (const k of inits.keys()) taken.add(k);
  for (const n of nodes) for (const o of n.outputs) if (o) taken.add(o);
  let changed = false;
  const out: Node[] = [];
  for (const n of nodes) {
    const body = n.op === 'If' && (n.domain === '' || n.domain === 'ai.onnx') ? branchOf(n, consts) : undefined;
    if (!body) {
      out.push(n);
      continue;
    }
    const local = [...body.nodes.flatMap((m) => m.outputs.filter((o) => o)), ...body.initializers.keys()];
    const self = new Set(n.outputs);
    if (local.some((x) => taken.has(x) && !self.has(x)) || body.outputs.length !== n.outputs.length) {
      out.push(n);
      continue;
    }
    const copy = body.nodes.map((m) => ({ ...m, inputs: [...m.inputs], outputs: [...m.outputs], attrs: { ...m.attrs } }));
    const rename = new Map<string, string>();
    const forward: Node[] = [];
    body.outputs.forEach((o, k) => {
      const to = n.outputs[k];
      if (!to) return;
      const computed = copy.some((m) => m.outputs.includes(o.name));
      const once = body.outputs.filter((p) => p.name === o.name).length === 1;
      const nested = copy.some((m) => Object.values(m.attrs).some((v) => v instanceof Graph && reads(v).has(o.name)));
      if (computed && once && !nested && !rename.has(o.name)) rename.set(o.name, to);
      else forward.push({ name: `${n.name}/output_${k}`, op: 'Identity', domain: '', inputs: [o.name], outputs: [to], attrs: {} });
    });
    for (const m of copy) {
      m.inputs = m.inputs.map((x) => rename.get(x) ?? x);
      m.outputs = m.outputs.map((x) => rename.get(x) ?? x);
    }
    for (const [k, t] of body.initializers) inits.set(k, t);
    for (const x of local) taken.add(rename.get(x) ?? x);
    out.push(...copy, ...forward);
    changed = true;
  }
  return changed ? out : undefined;
}

function branchOf(n: Node, consts: ReadonlyMap<string, Tensor>): Graph | undefined {
  const c = consts.get(n.inputs[0] ?? '');
  if (!c || c.size !== 1) return undefined;
  const b = c.num(0) ? n.attrs.then_branch : n.attrs.else_branch;
  return b instanceof Graph && b.inputs.length === 0 ? b : undefined;
}

/** Every name a subgraph (and its own subgraphs) reads. */
function reads(g: Graph): Set<string> {
  const s = new Set<string>(g.outputs.map((o) => o.name));
  for (const n of g.nodes) {
    for (const x of n.inputs) if (x) s.add(x);
    for (const v of Object.values(n.attrs)) if (v instanceof Graph) for (const x of reads(v)) s.add(x);
  }
  return s;
}
