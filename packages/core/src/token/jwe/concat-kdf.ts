import { createHash } from 'node:crypto';

/** A 32-bit big-endian unsigned integer (RFC 7518 §4.6.2 writes every length this way). */
function uint32be(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n);
  return b;
}

/** `Datalen || Data`: a field of OtherInfo (NIST SP 800-56A §5.8.1.2.1, RFC 7518 §4.6.2). */
function lengthAndInput(data: Uint8Array): Buffer[] {
  return [uint32be(data.length), Buffer.from(data.buffer, data.byteOffset, data.length)];
}

/**
 * The single-step Concat KDF of RFC 7518 §4.6.2 with SHA-256: derives `keyBits` bits from the
 * shared secret `z`. `algorithmId` is the `enc` for direct ECDH-ES and the `alg` for ECDH-ES+AxxxKW;
 * `apu`/`apv` are the decoded PartyUInfo/PartyVInfo (empty when absent).
 */
export function concatKdf(
  z: Uint8Array,
  algorithmId: string,
  keyBits: number,
  apu: Uint8Array,
  apv: Uint8Array,
): Buffer {
  const otherInfo = Buffer.concat([
    ...lengthAndInput(Buffer.from(algorithmId, 'ascii')),
    ...lengthAndInput(apu),
    ...lengthAndInput(apv),
    uint32be(keyBits), // SuppPubInfo: keydatalen in bits
  ]);
  const keyBytes = keyBits >> 3;
  const rounds = Math.ceil(keyBytes / 32);
  const out: Buffer[] = [];
  for (let counter = 1; counter <= rounds; counter++) {
    out.push(createHash('sha256').update(uint32be(counter)).update(z).update(otherInfo).digest());
  }
  return Buffer.concat(out).subarray(0, keyBytes);
}
