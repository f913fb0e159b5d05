// Shared by the sealed-model tests: the host's crypto thread (version 3 loads) and a load's outcome as a SealError reason.
import { expect } from 'vitest';
import { platform } from '#platform';
import { SealError } from '../../src/errors.js';
import type { HostCrypto } from '../../src/platform/types.js';

/** wait until the crypto thread has started and is free (its first request starts it) */
export async function threadUp(): Promise<boolean> {
  const host = platform.crypto as HostCrypto;
  for (let i = 0; i < 200; i++) {
    const slot = host.gcmThread?.();
    if (slot) {
      slot.cancel();
      return true;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
}

/** 'ok', or the reason of the SealError `p` rejects with (anything else fails the test) */
export async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    expect(e).toBeInstanceOf(SealError);
    return (e as SealError).reason;
  }
}
