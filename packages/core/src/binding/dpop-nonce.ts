import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../config/clock.js';
import { toSeconds } from '../config/duration.js';
import { orDefault } from '../config/option-default.js';
import type { Duration } from '../config/duration.js';

/**
 * Server-provided DPoP nonces (RFC 9449 §8, §9) made from a secret: stateless, so every receiver
 * configured with the same secret accepts the others' nonces.
 */
export interface DpopNonceOptions {
  /** At least 32 bytes (or characters). Share it between the receivers of one API. */
  secret: string | Uint8Array;
  /** How long one nonce is issued for; it is accepted for up to twice that. Default 5 min. */
  lifetime?: Duration;
}

/** Your own nonces: the one to hand out now, and which ones to accept. Both synchronous. */
export interface DpopNonceSource {
  /** The nonce to send in `DPoP-Nonce` (RFC 9449 §8.1 syntax: visible ASCII, no `"` or `\`). */
  current(): string;
  /** Whether a proof's `nonce` is still acceptable. */
  isValid(nonce: string): boolean;
}

// RFC 9449 §8.1: nonce = 1*NQCHAR
const NQCHAR = /^[\x21\x23-\x5b\x5d-\x7e]+$/;
const SLOT_BYTES = 6;
const MAC_BYTES = 16;

/** Validates the `nonce` option and returns the source to use. */
export function createNonceSource(
  option: DpopNonceOptions | DpopNonceSource,
  now: Clock,
): DpopNonceSource {
  if (typeof option !== 'object' || option === null) {
    throw new TypeError('"dpop.nonce" must be { secret } or { current, isValid }');
  }
  if ('current' in option || 'isValid' in option) {
    // Read as unknown: the option comes from configuration and is checked before it is called.
    const { current, isValid } = option as { current?: unknown; isValid?: unknown };
    if (typeof current !== 'function' || typeof isValid !== 'function') {
      throw new TypeError('"dpop.nonce" needs both "current" and "isValid" functions');
    }
    const read = current as () => unknown;
    const check = isValid as (nonce: string) => unknown;
    return {
      current() {
        const nonce = read.call(option);
        // Checked here: a bad value in a response header would turn the 401 into a 500.
        if (typeof nonce !== 'string' || !NQCHAR.test(nonce)) {
          throw new Error('dpop.nonce.current() returned an invalid nonce');
        }
        return nonce;
      },
      isValid: (nonce) => check.call(option, nonce) === true,
    };
  }
  return createSecretNonces(option, now);
}

/** Nonce = base64url(slot ‖ HMAC-SHA256(secret, slot)[..16]), slot = floor(now / lifetime). */
function createSecretNonces(options: DpopNonceOptions, now: Clock): DpopNonceSource {
  const { secret } = options;
  const key = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
  if (!(key instanceof Uint8Array) || key.length < 32) {
    throw new TypeError('"dpop.nonce.secret" must be at least 32 bytes');
  }
  const lifetime = toSeconds(
    orDefault(options.lifetime, '5m', 'dpop.nonce.lifetime'),
    'dpop.nonce.lifetime',
  );
  if (lifetime < 1) throw new TypeError('"dpop.nonce.lifetime" must be at least 1 s');
  const slotOf = () => Math.floor(now() / lifetime);
  const mac = (slot: Buffer) =>
    createHmac('sha256', key).update('tokengate dpop nonce ').update(slot).digest();
  const encodeSlot = (slot: number) => {
    const bytes = Buffer.alloc(SLOT_BYTES);
    bytes.writeUIntBE(slot, 0, SLOT_BYTES);
    return bytes;
  };
  let cached: { slot: number; nonce: string } | undefined;
  return {
    current() {
      const slot = slotOf();
      if (cached?.slot !== slot) {
        const bytes = encodeSlot(slot);
        const nonce = Buffer.concat([bytes, mac(bytes).subarray(0, MAC_BYTES)]);
        cached = { slot, nonce: nonce.toString('base64url') };
      }
      return cached.nonce;
    },
    isValid(nonce) {
      if (nonce.length !== Math.ceil(((SLOT_BYTES + MAC_BYTES) * 4) / 3)) return false;
      const bytes = Buffer.from(nonce, 'base64url');
      if (bytes.length !== SLOT_BYTES + MAC_BYTES) return false;
      const slotBytes = bytes.subarray(0, SLOT_BYTES);
      const age = slotOf() - slotBytes.readUIntBE(0, SLOT_BYTES);
      // The current slot and the one before: a nonce handed out just before a slot ends still works.
      if (age !== 0 && age !== 1) return false;
      return timingSafeEqual(bytes.subarray(SLOT_BYTES), mac(slotBytes).subarray(0, MAC_BYTES));
    },
  };
}
