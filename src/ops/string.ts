import { UnsupportedError } from '../errors.js';
import { broadcastDims } from '../ir/dims.js';
import type { Dim } from '../ir/graph.js';
import { defineOp } from '../ir/registry.js';
import { Tensor } from '../tensor/tensor.js';
import { broadcastBinary } from './broadcast.js';
import { needType } from './util.js';

/** String ops: StringNormalizer, StringConcat, StringSplit, RegexFullMatch. */

// ONNX StringNormalizer: "removes stop words from the input and changes the case of the remaining words ...
// If all elements in X are dropped, the output will be the empty value of string tensor with shape [1] if input
// shape is [C] and shape [1, 1] if input shape is [1, C]."
defineOp({
  name: 'StringNormalizer',
  inputs: [1, 1],
  outputs: [1, 1],
  attrs: {
    case_change_action: { type: 'string', default: 'NONE', oneOf: ['NONE', 'LOWER', 'UPPER'] },
    is_case_sensitive: { type: 'int', default: 0 },
    locale: { type: 'string', default: '' },
    stopwords: { type: 'strings', default: [] },
  },
  inferShape(ctx) {
    const x = needType(ctx, 0, ['string'], 'X');
    if (x.shape && !(x.shape.length === 1 || (x.shape.length === 2 && (x.shape[0] === 1 || typeof x.shape[0] === 'string'))))
      ctx.fail(`X must be [C] or [1, C], got [${x.shape.join(',')}]`);
    return [{ dtype: 'string', shape: x.shape ? x.shape.map((d, i) => (i === x.shape!.length - 1 ? '?' : d)) : undefined }];
  },
  reference({ inputs, attrs }) {
    const x = inputs[0]!;
    if (x.dims.length === 2 && x.dims[0] !== 1) throw new UnsupportedError(`X must be [C] or [1, C], got [${x.dims.join(',')}]`);
    const sens = attrs.is_case_sensitive !== 0;
    const stop = new Set((attrs.stopwords as string[]).map((w) => (sens ? w : w.toLowerCase())));
    const kept = (x.data as string[]).filter((w) => !stop.has(sens ? w : w.toLowerCase()));
    const out = kept.map((w) => (attrs.case_change_action === 'LOWER' ? w.toLowerCase() : attrs.case_change_action === 'UPPER' ? w.toUpperCase() : w));
    if (!out.length) out.push('');
    return [new Tensor('string', out, x.dims.length === 2 ? [1, out.length] : [out.length])];
  },
});

// ONNX StringConcat: "StringConcat concatenates string tensors elementwise (with NumPy-style broadcasting support)"
defineOp({
  name: 'StringConcat',
  inputs: [2, 2],
  outputs: [1, 1],
  attrs: {},
  inferShape(ctx) {
    const a = needType(ctx, 0, ['string'], 'X');
    const b = needType(ctx, 1, ['string'], 'Y');
    if (!a.shape || !b.shape) return [{ dtype: 'string' }];
    const s = broadcastDims(a.shape, b.shape);
    if (!s) ctx.fail(`X [${a.shape.join(',')}] and Y [${b.shape.join(',')}] do not broadcast`);
    return [{ dtype: 'string', shape: s }];
  },
  reference({ inputs }) {
    const [a, b] = inputs as [Tensor, Tensor];
    return [broadcastBinary(a, b, 'string', (x: unknown, y: unknown) => String(x) + String(y))];
  },
});

// ONNX StringSplit: "Split each string in the input into substrings on the delimiter ... If delimiter is not
// specified or is empty, consecutive whitespace characters are regarded as a single separator and leading or
// trailing whitespace is removed ... maxsplit: maximum number of splits (from left to right)"; Y is padded with
// empty strings to the largest number of substrings, Z holds each count
defineOp({
  name: 'StringSplit',
  inputs: [1, 1],
  outputs: [2, 2],
  attrs: { delimiter: { type: 'string', default: '' }, maxsplit: { type: 'int', default: undefined } },
  inferShape(ctx) {
    const x = needType(ctx, 0, ['string'], 'X');
    if (ctx.attrs.maxsplit !== undefined && ctx.attrs.maxsplit < 0) ctx.fail(`maxsplit must be ≥ 0, got ${ctx.attrs.maxsplit}`);
    const s: Dim[] | undefined = x.shape;
    return [
      { dtype: 'string', ...(s ? { shape: [...s, '?'] } : {}) },
      { dtype: 'int64', ...(s ? { shape: [...s] } : {}) },
    ];
  },
  reference({ inputs, attrs }) {
    const x = inputs[0]!;
    const max: number | undefined = attrs.maxsplit;
    const delim: string = attrs.delimiter;
    const parts = (x.data as string[]).map((s) => {
      if (!delim) {
        const words = s.trim() ? s.trim().split(/\s+/) : [];
        if (max === undefined || words.length <= max + 1) return words;
        // keep the rest after `max` splits intact (Python str.split(None, maxsplit))
        const out: string[] = [];
        let rest = s.replace(/^\s+/, '');
        for (let k = 0; k < max; k++) {
          const m = /\s+/.exec(rest)!;
          out.push(rest.slice(0, m.index));
          rest = rest.slice(m.index + m[0].length);
        }
        out.push(rest.replace(/\s+$/, ''));
        return out;
      }
      const all = s.split(delim);
      if (max === undefined || all.length <= max + 1) return all;
      return [...all.slice(0, max), all.slice(max).join(delim)];
    });
    const width = parts.reduce((m, p) => Math.max(m, p.length), 0);
    const y: string[] = [];
    for (const p of parts) for (let k = 0; k < width; k++) y.push(p[k] ?? '');
    return [new Tensor('string', y, [...x.dims, width]), new Tensor('int64', BigInt64Array.from(parts, (p) => BigInt(p.length)), x.dims)];
  },
});

// ONNX RegexFullMatch: "RegexFullMatch performs a full regex match on each element of the input tensor" (RE2 syntax;
// edgeq uses JavaScript's RegExp, which agrees on the common subset and refuses what it cannot parse)
defineOp({
  name: 'RegexFullMatch',
  inputs: [1, 1],
  outputs: [1, 1],
  attrs: { pattern: { type: 'string', required: true } },
  inferShape(ctx) {
    const x = needType(ctx, 0, ['string'], 'X');
    try {
      new RegExp(ctx.attrs.pattern as string, 'u');
    } catch (e) {
      throw new UnsupportedError(`node '${ctx.node.name}' (RegexFullMatch): pattern ${JSON.stringify(ctx.attrs.pattern)} is not supported: ${(e as Error).message}`);
    }
    return [{ dtype: 'bool', shape: x.shape }];
  },
  reference({ inputs, attrs }) {
    const x = inputs[0]!;
    const re = new RegExp(`^(?:${attrs.pattern as string})$`, 'u');
    return [new Tensor('bool', Uint8Array.from(x.data as string[], (s) => (re.test(s) ? 1 : 0)), x.dims)];
  },
});
