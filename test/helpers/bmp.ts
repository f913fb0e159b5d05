import { readFileSync } from 'node:fs';
import { Tensor } from '../../src/tensor/tensor.js';

/** 96x96 8-bit BMP → int8 exactly as TFLM's person_detection_test feeds it (raw bytes memcpy'd into int8, rows top-down). */
export function bmpInt8(path: string): Tensor {
  const b = readFileSync(path);
  const off = b.readUInt32LE(10), w = b.readInt32LE(18), h = b.readInt32LE(22);
  const rows = Math.abs(h);
  const px = new Int8Array(w * rows);
  for (let y = 0; y < rows; y++) for (let x = 0; x < w; x++) px[(h > 0 ? rows - 1 - y : y) * w + x] = (b[off + y * w + x]! << 24) >> 24;
  return new Tensor('int8', px, [1, rows, w, 1]);
}
