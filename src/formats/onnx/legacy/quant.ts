import type { Node } from '../../../ir/graph.js';
import type { LegacyRule } from './index.js';

/**
 * Old-opset forms of the quant and recurrent op families, rewritten into the current form.
 *
 * QuantizeLinear/DequantizeLinear-10..23 are special cases of the opset-25 form with the same defaults
 * (axis=1, block_size=0, output_dtype=0 ⇒ from the zero point / scale), so they need no rewrite.
 * RNN/GRU/LSTM-1 carried `output_sequence` ("the sequence output for the hidden is optional if 0"),
 * removed in opset 7: Y is always computed now, and an unused Y is simply not consumed.
 */
const dropOutputSequence = (op: string): LegacyRule => ({
  op,
  upTo: 6,
  upgrade(node: Node): Node[] {
    if (!('output_sequence' in node.attrs)) return [node];
    const attrs = { ...node.attrs };
    delete attrs.output_sequence;
    return [{ ...node, attrs }];
  },
});

export const LEGACY_QUANT: LegacyRule[] = [dropOutputSequence('RNN'), dropOutputSequence('GRU'), dropOutputSequence('LSTM')];
