import { readFileSync, readdirSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EdgeqError, ModelFormatError, UnsupportedError } from '../../src/errors.js';
import { readNpy, writeNpy } from '../../src/formats/npy.js';
import type { DType } from '../../src/tensor/dtype.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { dataPath, hasData } from '../helpers/data.js';

const enc = new TextEncoder();

/** Build a .npy by hand: header text padded to 64 bytes, version 1/2/3. */
function npy(header: string, body: Uint8Array = new Uint8Array(), version = 1): Uint8Array {
  const pre = version === 1 ? 10 : 12;
  let h = header;
  while ((pre + h.length + 1) % 64) h += ' ';
  h += '\n';
  const hb = enc.encode(h);
  const out = new Uint8Array(pre + hb.length + body.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  new DataView(out.buffer).setUint16(8, hb.length, true);
  if (version > 1) new DataView(out.buffer).setUint32(8, hb.length, true);
  out.set(hb, pre);
  out.set(body, pre + hb.length);
  return out;
}

const DTYPES: DType[] = ['float32', 'float64', 'float16', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'bool'];

function arb(dtype: DType, n: number): fc.Arbitrary<Tensor['data']> {
  const len = { minLength: n, maxLength: n };
  switch (dtype) {
    case 'float32':
      return fc.float32Array(len);
    case 'float64':
      return fc.float64Array(len);
    case 'int64':
      return fc.bigInt64Array(len);
    case 'uint64':
      return fc.bigUint64Array(len);
    case 'int8':
      return fc.int8Array(len);
    case 'uint8':
      return fc.uint8Array(len);
    case 'bool':
      return fc.uint8Array({ ...len, max: 1 });
    case 'int16':
      return fc.int16Array(len);
    case 'uint16':
    case 'float16':
      return fc.uint16Array(len);
    case 'int32':
      return fc.int32Array(len);
    default:
      return fc.uint32Array(len);
  }
}

const sameBits = (a: Tensor, b: Tensor) => {
  expect(b.type).toBe(a.type);
  expect(b.dims).toEqual(a.dims);
  const x = a.typed;
  const y = b.typed;
  expect(new Uint8Array(y.buffer, y.byteOffset, b.byteLength)).toEqual(new Uint8Array(x.buffer, x.byteOffset, a.byteLength));
};

describe('npy round trip', () => {
  for (const dtype of DTYPES)
    it(`${dtype}`, () => {
      fc.assert(
        fc.property(
          fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 4 }).chain((dims) => fc.tuple(fc.constant(dims), arb(dtype, dims.reduce((a, b) => a * b, 1)))),
          ([dims, data]) => {
            const t = new Tensor(dtype, data as never, dims);
            const bytes = writeNpy(t);
            expect(bytes.indexOf(0x0a)).toBeGreaterThan(0);
            // header (magic + len + dict) is 64-byte aligned like numpy's
            const hlen = bytes[8]! | (bytes[9]! << 8);
            expect((10 + hlen) % 64).toBe(0);
            sameBits(t, readNpy(bytes, 'rt.npy'));
          },
        ),
        { numRuns: 40 },
      );
    });

  it('writes numpy-identical headers (1-d, scalar, 4-d)', () => {
    const h = (t: Tensor) => {
      const b = writeNpy(t);
      return new TextDecoder().decode(b.subarray(10, 10 + (b[8]! | (b[9]! << 8)))).trimEnd();
    };
    expect(h(new Tensor('int64', [1n, 2n], [2]))).toBe("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }");
    expect(h(new Tensor('float32', [1], []))).toBe("{'descr': '<f4', 'fortran_order': False, 'shape': (), }");
    expect(h(new Tensor('uint8', new Uint8Array(4), [1, 1, 2, 2]))).toBe("{'descr': '|u1', 'fortran_order': False, 'shape': (1, 1, 2, 2), }");
  });

  it('reads versions 2.0 and 3.0, big-endian data and bool bytes > 1', () => {
    const body = new Uint8Array([0, 0, 0, 1, 0, 0, 0, 2]);
    const t = readNpy(npy("{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }", body, 2), 'be.npy');
    expect([...(t.data as Int32Array)]).toEqual([1, 2]);
    const u = readNpy(npy("{'shape': (2, ), 'fortran_order': False, 'descr': '|b1'}", new Uint8Array([0, 7]), 3), 'b.npy');
    expect(u.type).toBe('bool');
    expect([...(u.data as Uint8Array)]).toEqual([0, 1]);
  });

  it('reads a version 2.0 header (4-byte length)', () => {
    const t = readNpy(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(4), 2), 'v2.npy');
    expect(t.dims).toEqual([1]);
  });
});

describe('npy: malformed files give EdgeqError naming the file', () => {
  const f4 = (shape: string, n: number) => npy(`{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`, new Uint8Array(n));
  const cases: [string, Uint8Array, new (...a: never[]) => EdgeqError][] = [
    ['empty', new Uint8Array(), ModelFormatError],
    ['bad magic', enc.encode('NUMPYxxxxxxxxxxxx'), ModelFormatError],
    ['version 4', (() => { const b = f4('(1,)', 4); b[6] = 4; return b; })(), UnsupportedError],
    ['header too long', (() => { const b = f4('(1,)', 4); b[8] = 0xff; b[9] = 0xff; return b; })(), ModelFormatError],
    ['data too short', f4('(2, 3)', 20), ModelFormatError],
    ['data too long', f4('(2,)', 12), ModelFormatError],
    ['negative dim', f4('(-1,)', 0), ModelFormatError],
    ['huge shape', f4('(100000, 100000)', 0), ModelFormatError],
    ['float dim', f4('(1.5,)', 0), ModelFormatError],
    ['fortran order', npy("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", new Uint8Array(4)), UnsupportedError],
    ['object dtype', npy("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(8)), UnsupportedError],
    ['string dtype', npy("{'descr': '<U3', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(12)), UnsupportedError],
    ['structured dtype', npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", new Uint8Array(4)), ModelFormatError],
    ['missing shape', npy("{'descr': '<f4', 'fortran_order': False, }", new Uint8Array(4)), ModelFormatError],
    ['extra key', npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", new Uint8Array(4)), ModelFormatError],
    ['code in header', npy("__import__('os').system('true')", new Uint8Array(4)), ModelFormatError],
    ['unterminated', npy("{'descr': '<f4", new Uint8Array(4)), ModelFormatError],
    ['| on multi-byte', npy("{'descr': '|f4', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(4)), ModelFormatError],
  ];
  for (const [name, bytes, Err] of cases)
    it(name, () => {
      expect(() => readNpy(bytes, 'bad.npy')).toThrow(Err);
      expect(() => readNpy(bytes, 'bad.npy')).toThrow(/bad\.npy/);
    });

  it('fuzzed headers never throw anything but EdgeqError', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), fc.uint8Array({ maxLength: 16 }), (h, body) => {
        try {
          readNpy(npy(h, body), 'fuzz.npy');
        } catch (e) {
          expect(e).toBeInstanceOf(EdgeqError);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('string tensors cannot be written', () => {
    expect(() => writeNpy(new Tensor('string', ['a'], [1]))).toThrow(UnsupportedError);
  });
});

describe.runIf(hasData('mnist'))('shared MNIST .npy files', () => {
  it('read with the documented shapes and dtypes and re-write byte-identically', () => {
    const want: Record<string, [string, number[]]> = {
      'x_test.npy': ['float32', [2000, 1, 28, 28]],
      'y_test.npy': ['int64', [2000]],
      'x_calib.npy': ['float32', [500, 1, 28, 28]],
      'y_calib.npy': ['int64', [500]],
    };
    const files = readdirSync(dataPath('mnist')).filter((f) => f.endsWith('.npy'));
    expect(files.length).toBeGreaterThanOrEqual(4);
    for (const f of files) {
      const bytes = new Uint8Array(readFileSync(dataPath(`mnist/${f}`)));
      const t = readNpy(bytes, f);
      if (want[f]) {
        expect(t.type).toBe(want[f]![0]);
        expect(t.dims).toEqual(want[f]![1]);
      }
      expect(Buffer.from(writeNpy(t)).equals(Buffer.from(bytes))).toBe(true);
    }
  });
});
