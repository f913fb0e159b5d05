/**
 * Node-only: external data files resolved relative to the model file's folder (never imported by the browser
 * entry). Locations were validated as relative and '..'-free; the real path (symlinks followed) must still lie
 * inside the folder.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { ModelFormatError } from '../../errors.js';
import type { Graph } from '../../ir/graph.js';
import { readOnnx } from './reader.js';
import type { ExternalDataSource } from './tensor-proto.js';

export function folderSource(dir: string): ExternalDataSource {
  const root = realpathSync(dir);
  const cache = new Map<string, Uint8Array>();
  return {
    file(location, tensor) {
      let d = cache.get(location);
      if (d) return d;
      let real: string;
      try {
        real = realpathSync(join(root, location));
      } catch (e) {
        throw new ModelFormatError(`tensor ${tensor}: cannot open external data file '${location}' beside the model: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      if (!real.startsWith(root + sep)) throw new ModelFormatError(`tensor ${tensor}: external data file '${location}' resolves outside the model's folder`);
      d = new Uint8Array(readFileSync(real));
      cache.set(location, d);
      return d;
    },
  };
}

/** Read an ONNX model file, resolving external data beside it. */
export function readOnnxFile(path: string, bytes: Uint8Array = new Uint8Array(readFileSync(path))): Graph {
  return readOnnx(bytes, { externalData: folderSource(dirname(path)) });
}
