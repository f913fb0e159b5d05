import type { Node } from '../ir/graph.js';
import { type Executor, RAN, newNodeTimes } from './executor.js';

/** One node of the plan in a profile: the kernel that ran it, or `reference` and why no kernel took it. */
export interface NodeProfile {
  name: string;
  op: string;
  /** kernel name; `reference` (TS reference op); `fused` (done by its producer's kernel); `skipped` (not run) */
  kernel: string;
  /** median wall ms over the profiled runs */
  ms: number;
  /** why it ran on the reference (every candidate kernel's decline, or no kernel for the op) */
  reason?: string;
  /**
   * kernel `control-flow` (If/Loop/Scan): the part of `ms` its bodies' nodes spent on the reference (nested bodies
   * included). The rest is body nodes on kernels and the executor binding and dispatching the bodies.
   */
  body_reference_ms?: number;
}

/** Per op type and kernel: how many nodes and their summed median ms. */
export interface OpProfile {
  op: string;
  kernel: string;
  count: number;
  ms: number;
}

export interface ProfileSummary {
  /** runs profiled */
  runs: number;
  /** median wall ms of a run */
  ms: number;
  /**
   * share of the run spent in reference ops, 0..1: Σ reference nodes' median ms / Σ every node's median ms; a
   * control-flow node counts with its bodies' reference nodes (NodeProfile.body_reference_ms)
   */
  reference_share: number;
  /** Σ every node's median ms (the run minus per-run setup: feeds check, arena, copying outputs out) */
  nodes_ms: number;
  /** the plan's nodes in execution order */
  nodes: NodeProfile[];
  /** per op and kernel totals, slowest first */
  ops: OpProfile[];
  /** 'yes' when session.run takes a static plan (precompiled calls on one planned block), else why not */
  static_plan: string;
  /** nodes canonicalize folded into initializers, bypassed (Identity/Dropout) or dropped as dead before planning */
  canonicalized: { folded: number; bypassed: number; dead: number };
}

const median = (xs: ArrayLike<number>): number => {
  const s = Array.from(xs).sort((a, b) => a - b);
  if (!s.length) return 0;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Collects per-node times of an executor's runs (it turns the executor's `nodeTimes` on). */
export class Profiler {
  private walls: number[] = [];
  private times: Float64Array[] = [];
  private bodies: Float64Array[] = [];
  private ran?: Uint8Array;

  constructor(readonly exec: Executor) {
    exec.nodeTimes ??= newNodeTimes(exec.analysis.order.length);
  }

  /** Store the run that just finished (`wall`: its ms as the caller saw it). */
  record(wall: number): void {
    const t = this.exec.nodeTimes!;
    this.walls.push(wall);
    this.times.push(t.ms.slice());
    this.bodies.push(t.body.slice());
    this.ran = t.ran.slice();
  }

  reset(): void {
    this.walls = [];
    this.times = [];
    this.bodies = [];
  }

  summary(): ProfileSummary {
    const { order } = this.exec.analysis;
    const runs = this.walls.length;
    const nodes: NodeProfile[] = [];
    const col = new Float64Array(runs);
    order.forEach((node, i) => {
      for (let r = 0; r < runs; r++) col[r] = this.times[r]![i]!;
      const how = this.ran?.[i] ?? RAN.skipped;
      const kernel = how === RAN.kernel ? this.exec.kernelName(node) : how === RAN.reference ? 'reference' : how === RAN.fused ? 'fused' : how === RAN.control ? 'control-flow' : 'skipped';
      const p: NodeProfile = { name: node.name, op: opName(node), kernel, ms: median(col) };
      if (how === RAN.control) {
        for (let r = 0; r < runs; r++) col[r] = this.bodies[r]![i]!;
        p.body_reference_ms = Math.min(p.ms, median(col));
      }
      if (how === RAN.reference) p.reason = this.exec.fallbacks.get(node) ?? (this.exec.analysis.defs.get(node)!.runValues ? 'control-flow/sequence op (runs on the reference by design)' : 'reference backend');
      nodes.push(p);
    });
    // share of the nodes' time, from per-node medians: robust to a run being descheduled on a loaded machine
    let ref = 0;
    let all = 0;
    for (const n of nodes) {
      all += n.ms;
      if (n.kernel === 'reference') ref += n.ms;
      else if (n.kernel === 'control-flow') ref += n.body_reference_ms!;
    }
    const ops = new Map<string, OpProfile>();
    for (const n of nodes) {
      if (n.kernel === 'skipped') continue;
      const k = `${n.op}\0${n.kernel}`;
      const o = ops.get(k) ?? ops.set(k, { op: n.op, kernel: n.kernel, count: 0, ms: 0 }).get(k)!;
      o.count++;
      o.ms += n.ms;
    }
    const canonicalized = this.exec.canonicalized ?? { folded: 0, bypassed: 0, dead: 0 };
    const st = this.exec.staticPlanStatus();
    const static_plan = st.static ? 'yes' : `no: ${st.why}`;
    return { runs, ms: median(this.walls), reference_share: all > 0 ? ref / all : 0, nodes_ms: all, nodes, ops: [...ops.values()].sort((a, b) => b.ms - a.ms), canonicalized, static_plan };
  }
}

function opName(n: Node): string {
  return n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.op}` : n.op;
}
