import { createECDH } from 'node:crypto';
import type { ECDH, KeyObject } from 'node:crypto';

/**
 * A receiver private key in the form node:crypto opens JWEs with, derived once when the key set
 * is built (never per token). Keys outside it (RSA under 2048 bits, X448, other curves) stay with jose.
 */
export type NodeReceiverKey =
  | { kind: 'rsa'; key: KeyObject }
  | {
      kind: 'ecdh';
      key: KeyObject;
      /** The JWK `kty`/`crv` an `epk` must have to agree with this key (RFC 7518 §4.6.1.1). */
      kty: 'EC' | 'OKP';
      crv: string;
      /** Bytes of each coordinate of a public point on this curve (`x`, and `y` for EC). */
      coordinateBytes: number;
      /**
       * For the NIST curves, the private key set once into an ECDH object: it takes the `epk` point
       * as bytes, which costs a third of importing it as a key for `diffieHellman` (measured).
       */
      ecdh: ECDH | undefined;
    }
  | {
      kind: 'secret';
      key: KeyObject;
      /** The shared key's bytes, exported once (`dir` uses them as the CEK, A*GCMKW as the KEK). */
      bytes: Buffer;
    };

const EC_CURVES: Record<string, { crv: string; coordinateBytes: number }> = {
  // Keyed by OpenSSL's name, as asymmetricKeyDetails.namedCurve reports it.
  prime256v1: { crv: 'P-256', coordinateBytes: 32 },
  secp384r1: { crv: 'P-384', coordinateBytes: 48 },
  secp521r1: { crv: 'P-521', coordinateBytes: 66 },
};

/** jose refuses RSA-OAEP with a modulus under 2048 bits; such a key keeps jose's answer. */
const MIN_RSA_BITS = 2048;

/** The node:crypto form of an imported receiver key, or `undefined` when jose keeps it. */
export function toNodeReceiverKey(key: KeyObject): NodeReceiverKey | undefined {
  if (key.type === 'secret') return { kind: 'secret', key, bytes: key.export() };
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return (details.modulusLength ?? 0) >= MIN_RSA_BITS ? { kind: 'rsa', key } : undefined;
    case 'ec': {
      const namedCurve = details.namedCurve ?? '';
      const curve = EC_CURVES[namedCurve];
      if (!curve) return undefined;
      const ecdh = createECDH(namedCurve);
      ecdh.setPrivateKey(Buffer.from(key.export({ format: 'jwk' }).d!, 'base64url'));
      return { kind: 'ecdh', key, kty: 'EC', ...curve, ecdh };
    }
    case 'x25519':
      return { kind: 'ecdh', key, kty: 'OKP', crv: 'X25519', coordinateBytes: 32, ecdh: undefined };
    default:
      return undefined;
  }
}
