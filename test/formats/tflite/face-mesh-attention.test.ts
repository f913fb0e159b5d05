// MediaPipe's face_landmark_with_attention.tflite (packed inside npm @mediapipe/face_mesh, devDependency): PRELU and
// the custom ops Landmarks2TransformMatrix / TransformTensorBilinear / TransformLandmarks (version 2, flexbuffer
// options). TFLite's own runtime cannot run these ops (GPU-only in MediaPipe's TFLite build), so the check is the
// model's own consistency: its lips / eye sub-models look at crops cut by Landmarks2TransformMatrix +
// TransformTensorBilinear and map their landmarks back with TransformLandmarks; the refined landmarks land on the
// mesh landmarks they refine only if all three transforms are right. Plus spec properties of each op.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EdgeqError, ModelFormatError } from '../../../src/errors.js';
import { readFlexbuffer } from '../../../src/formats/tflite/flexbuffers.js';
import { parseTflite } from '../../../src/formats/tflite/model.js';
import '../../../src/ops/index.js';
import { InferenceSession } from '../../../src/runtime/session.js';
import { Tensor } from '../../../src/tensor/tensor.js';
import { buildTflite } from '../../helpers/tflite-builder.js';

/** The model's bytes from the package's emscripten file-packager data (offsets listed in the loader script). */
function attentionModel(): Uint8Array | undefined {
  try {
    const dir = dirname(createRequire(import.meta.url).resolve('@mediapipe/face_mesh/package.json'));
    const loader = join(dir, 'face_mesh_solution_packed_assets_loader.js'), data = join(dir, 'face_mesh_solution_packed_assets.data');
    if (!existsSync(loader) || !existsSync(data)) return undefined;
    const m = /"filename":\s*"[^"]*\/face_landmark_with_attention\.tflite",\s*"start":\s*(\d+),\s*"end":\s*(\d+)/.exec(readFileSync(loader, 'utf8'));
    return m ? new Uint8Array(readFileSync(data).subarray(Number(m[1]), Number(m[2]))) : undefined;
  } catch {
    return undefined;
  }
}
const model = attentionModel();
if (!model && process.env.CI) throw new Error('@mediapipe/face_mesh (devDependency) is not installed under CI');

/** A crude 192x192 "face": a light disc with two dark eyes and a dark mouth, RGB in [0, 1]. */
function cartoonFace(): Tensor {
  const x = new Float32Array(192 * 192 * 3);
  for (let y = 0; y < 192; y++)
    for (let xx = 0; xx < 192; xx++)
      for (let c = 0; c < 3; c++) {
        const inFace = Math.hypot(xx - 96, (y - 100) * 0.8) < 70;
        const mouth = Math.abs(y - 140) < 6 && Math.abs(xx - 96) < 25;
        const eye = Math.hypot(xx - 70, y - 80) < 8 || Math.hypot(xx - 122, y - 80) < 8;
        x[(y * 192 + xx) * 3 + c] = inFace ? 0.8 - (0.2 * c) / 3 - (mouth ? 0.5 : 0) - (eye ? 0.6 : 0) : 0.1;
      }
  return new Tensor('float32', x, [1, 192, 192, 3]);
}

describe.runIf(model)('face_landmark_with_attention.tflite', () => {
  it('runs, and the lips / eye refinements land on the mesh landmarks they refine (mean < 5 px of 192)', async () => {
    const s = await InferenceSession.create(model!);
    const out = await s.run({ [s.inputNames[0]!]: cartoonFace() });
    const mesh = out.output_mesh_identity!.data as Float32Array;
    expect(mesh.length).toBe(468 * 3);
    const l2tm = parseTflite(model!).operators.filter((o) => o.customCode === 'Landmarks2TransformMatrix');
    // the three crops: lips, left eye, right eye; each refinement output lists the subset's landmarks in order
    for (const [k, name] of [[0, 'output_lips'], [1, 'output_left_eye'], [2, 'output_right_eye']] as const) {
      const sub = (readFlexbuffer(l2tm[k]!.customOptions!, 'options') as { subset_idxs: number[] }).subset_idxs;
      const ref = out[name]!.data as Float32Array;
      expect(ref.length).toBe(sub.length * 2);
      let d = 0;
      sub.forEach((m, i) => (d += Math.hypot(ref[2 * i]! - mesh[3 * m]!, ref[2 * i + 1]! - mesh[3 * m + 1]!)));
      console.log(`${name}: mean |refined - mesh| = ${(d / sub.length).toFixed(2)} px over ${sub.length} landmarks`);
      expect(d / sub.length).toBeLessThan(5);
    }
  }, 120_000);
});

/** One custom op on hand-built tensors. */
async function runCustom(code: string, ins: Tensor[], outShape: number[], options?: Uint8Array): Promise<Tensor> {
  const bytes = buildTflite({
    tensors: [...ins.map((t, i) => ({ shape: t.dims as number[], type: 0, buffer: 0, name: `in${i}` })), { shape: outShape, type: 0, buffer: 0, name: 'y' }],
    buffers: [new Uint8Array(0)],
    opcodes: [32],
    customCodes: { 0: code },
    opcodeVersions: { 0: 2 }, // the version 2 registrations
    ops: [{ opcode: 0, inputs: ins.map((_, i) => i), outputs: [ins.length], ...(options ? { customOptions: options } : {}) }],
    inputs: ins.map((_, i) => i),
    outputs: [ins.length],
  });
  const s = await InferenceSession.create(bytes);
  return (await s.run(Object.fromEntries(ins.map((t, i) => [`in${i}`, t]))))['y']!;
}

describe("MediaPipe's face-mesh ops (spec properties)", () => {
  it('TransformTensorBilinear: a unit-scale integer translation (with the align-corners correction) is a shifted copy, 0 outside', async () => {
    await fc.assert(
      fc.asyncProperty(fc.record({ H: fc.integer({ min: 1, max: 6 }), W: fc.integer({ min: 1, max: 6 }), C: fc.integer({ min: 1, max: 3 }), dx: fc.integer({ min: -3, max: 3 }), dy: fc.integer({ min: -3, max: 3 }), OH: fc.integer({ min: 1, max: 5 }), OW: fc.integer({ min: 1, max: 5 }) }), async (p) => {
        const x = new Tensor('float32', Float32Array.from({ length: p.H * p.W * p.C }, (_, i) => i + 1), [1, p.H, p.W, p.C]);
        // T = [1 0 0 dx; 0 1 0 dy; 0 0 1 0; 0 0 0 1]: "x_transform[3] += x_transform[0]·0.5 + x_transform[1]·0.5 - 0.5" = dx
        const T = new Tensor('float32', Float32Array.of(1, 0, 0, p.dx, 0, 1, 0, p.dy, 0, 0, 1, 0, 0, 0, 0, 1), [1, 4, 4]);
        const opts = flexMap({ output_height: p.OH, output_width: p.OW });
        const y = await runCustom('TransformTensorBilinear', [x, T], [1, p.OH, p.OW, p.C], opts);
        expect(y.dims).toEqual([1, p.OH, p.OW, p.C]);
        const yd = y.data as Float32Array, xd = x.data as Float32Array;
        for (let oy = 0; oy < p.OH; oy++)
          for (let ox = 0; ox < p.OW; ox++)
            for (let c = 0; c < p.C; c++) {
              const [sy, sx] = [oy + p.dy, ox + p.dx];
              const want = sy >= 0 && sy < p.H && sx >= 0 && sx < p.W ? xd[(sy * p.W + sx) * p.C + c]! : 0;
              expect(yd[(oy * p.OW + ox) * p.C + c]).toBe(want);
            }
      }),
      { numRuns: 40 },
    );
  });

  it('TransformLandmarks: (x, y[, z]) → rows 0 and 1 of the matrix applied to (x, y, 0, 1), z kept', async () => {
    const L = new Tensor('float32', Float32Array.of(1, 2, 7, -3, 0.5, 8), [1, 2, 3]);
    const T = new Tensor('float32', Float32Array.of(2, 0.5, 9, 10, -1, 3, 9, 20, 0, 0, 1, 0, 0, 0, 0, 1), [1, 4, 4]);
    const y = await runCustom('TransformLandmarks', [L, T], [1, 2, 3]);
    expect(Array.from(y.data as Float32Array)).toEqual([2 * 1 + 0.5 * 2 + 10, -1 * 1 + 3 * 2 + 20, 7, 2 * -3 + 0.5 * 0.5 + 10, -1 * -3 + 3 * 0.5 + 20, 8]);
  });

  it('Landmarks2TransformMatrix: level landmarks (rotation 0) give scale·box/out and the box centre shifted by half the output', async () => {
    // landmarks 0 (left) and 1 (right) level → rotation = target (0) - atan2(0, dx) = 0; the box of the subset
    // {0, 1, 2, 3} is x 10..50, y 20..80 → centre (30, 50), size 40 x 60
    const L = new Tensor('float32', Float32Array.of(10, 20, 0, 50, 20, 0, 30, 80, 0, 20, 50, 0), [1, 4, 3]);
    const opts = flexMap({ left_rotation_idx: 0, right_rotation_idx: 1, output_height: 16, output_width: 8, scale_x: 1.5, scale_y: 2, subset_idxs: [0, 1, 2, 3], target_rotation_radians: 0 });
    const y = await runCustom('Landmarks2TransformMatrix', [L], [1, 4, 4], opts);
    const [sx, sy] = [(1.5 * 40) / 8, (2 * 60) / 16];
    const want = [sx, 0, 0, 30 - sx * 4, 0, sy, 0, 50 - sy * 8, 0, 0, 1, 0, 0, 0, 0, 1];
    Array.from(y.data as Float32Array).forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThan(1e-5));
  });

  it('flexbuffer options: truncations and byte rewrites of real options give a ModelFormatError or a value, never another error', () => {
    if (!model) return;
    const opts = parseTflite(model).operators.filter((o) => o.customOptions?.length).map((o) => o.customOptions!);
    fc.assert(
      fc.property(fc.constantFrom(...opts), fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 0, max: 255 }), fc.boolean(), (o, at, v, cut) => {
        const b = o.slice();
        const k = at % b.length;
        const bytes = cut ? b.subarray(k) : (b.set([v], k), b);
        try {
          readFlexbuffer(bytes, 'options');
        } catch (e) {
          expect(e).toBeInstanceOf(ModelFormatError);
        }
      }),
      { numRuns: 500 },
    );
    expect(() => readFlexbuffer(new Uint8Array([1, 2]), 'options')).toThrow(EdgeqError);
  });
});

/** A flexbuffer map of ints / floats / int vectors (keys sorted, 4-byte widths), as TFLite converters write them. */
function flexMap(o: Record<string, number | number[]>): Uint8Array {
  const keys = Object.keys(o).sort();
  const out: number[] = [];
  const u32 = (v: number) => out.push(v & 255, (v >> 8) & 255, (v >> 16) & 255, (v >>> 24) & 255);
  const align = () => {
    while (out.length % 4) out.push(0);
  };
  const keyPos = keys.map((k) => {
    const p = out.length;
    for (const ch of new TextEncoder().encode(k)) out.push(ch);
    out.push(0);
    return p;
  });
  const vecPos: Record<string, number> = {};
  for (const k of keys) {
    const v = o[k]!;
    if (!Array.isArray(v)) continue;
    align();
    u32(v.length);
    vecPos[k] = out.length;
    for (const e of v) u32(e);
  }
  align();
  u32(keys.length);
  const keysAt = out.length;
  for (let i = 0; i < keys.length; i++) u32(out.length - keyPos[i]!);
  // map header: keys offset, keys byte width, length
  const hdr = out.length;
  u32(hdr - keysAt);
  u32(4);
  u32(keys.length);
  const mapAt = out.length;
  const types: number[] = [];
  for (const k of keys) {
    const v = o[k]!;
    if (Array.isArray(v)) (u32(out.length - vecPos[k]!), types.push((11 << 2) | 2));
    else if (Number.isInteger(v)) (u32(v), types.push((1 << 2) | 2));
    else {
      const f = new DataView(new ArrayBuffer(4));
      f.setFloat32(0, v, true);
      out.push(...new Uint8Array(f.buffer));
      types.push((3 << 2) | 2);
    }
  }
  out.push(...types);
  align();
  const root = out.length;
  u32(root - mapAt);
  out.push((9 << 2) | 2, 4);
  return Uint8Array.from(out);
}
