// `tokengate inspect`: the token decoded, never verified, and saying so first.
import type { JWK } from 'jose';
import { decodeToken, describeKey, keyTypeFor } from './decode.js';
import type { Decoded, Layer } from './decode.js';
import { isoDate, printable, showDate, showValue } from './format.js';

/** Header parameters that carry key material (RFC 7515 §4.1.3, §4.1.6; RFC 7518 §4.6.1.1). */
const KEY_PARAMETERS = new Set(['jwk', 'epk', 'x5c']);

/** A header parameter's value, with key material replaced by its description. */
export function headerValue(name: string, value: unknown): unknown {
  if (!KEY_PARAMETERS.has(name)) return value;
  if (name === 'x5c') {
    const n = Array.isArray(value) ? value.length : 0;
    return `${n} certificate${n === 1 ? '' : 's'} (not shown)`;
  }
  const jwk = (typeof value === 'object' && value !== null ? value : {}) as JWK;
  const curve = typeof jwk.crv === 'string' ? ` ${jwk.crv}` : '';
  return `${showValue(jwk.kty ?? '?')}${showValue(curve)} public key (not shown)`;
}

/** What a JWE needs to be opened, in words: the key type, `kid` and algorithms. */
export function keyNeeded(header: Record<string, unknown>): string {
  const alg = typeof header.alg === 'string' ? header.alg : '?';
  const kty = keyTypeFor(alg);
  const what =
    kty === 'oct'
      ? 'a shared symmetric key'
      : `the receiver's private ${kty === 'EC' ? 'EC (or X25519)' : kty} key`;
  const kid =
    typeof header.kid === 'string'
      ? ` with kid ${showValue(header.kid)}`
      : ' (no kid: any fitting key)';
  return `${what}${kid}, for ${showValue(alg)} + ${showValue(header.enc ?? '?')}`;
}

const TIME_CLAIMS = new Set(['exp', 'nbf', 'iat']);

/** The JSON form of `inspect`: one object, no key material, no signature. */
export function inspectJson(decoded: Decoded, now: number): Record<string, unknown> {
  return {
    verified: false,
    at: isoDate(now),
    layers: decoded.layers.map((layer) => ({
      ...layer,
      header: Object.fromEntries(
        Object.entries(layer.header).map(([k, v]) => [k, headerValue(k, v)]),
      ),
      ...(layer.kind === 'JWE' && { needs: keyNeeded(layer.header) }),
    })),
    ...(decoded.decryptedWith && { decryptedWith: describeKey(decoded.decryptedWith) }),
    ...(decoded.claims && { claims: decoded.claims }),
    ...(decoded.problem && { problem: decoded.problem }),
  };
}

/** The text form of `inspect`, first line first. */
export function inspectText(decoded: Decoded, now: number): string[] {
  const lines = [
    'tokengate inspect: decoded WITHOUT verification: nothing below is checked (use `tokengate verify`)',
  ];
  decoded.layers.forEach((layer, i) => {
    const where = decoded.layers.length === 1 ? '' : i === 0 ? ' (outer layer)' : ' (inner layer)';
    lines.push(`${layer.kind} header${where}`);
    lines.push(...headerLines(layer));
    if (layer.kind === 'JWE') {
      lines.push(`  needs    ${keyNeeded(layer.header)}`);
      if (i === 0 && decoded.decryptedWith) {
        lines.push(
          `  opened   with ${printable(describeKey(decoded.decryptedWith))} from --decrypt-key`,
        );
      }
    }
  });
  if (decoded.claims) {
    lines.push(`claims (${isoDate(now)} is "now" for the relative times)`);
    const width = Math.max(...Object.keys(decoded.claims).map((k) => printable(k).length), 3);
    for (const [name, value] of Object.entries(decoded.claims)) {
      const shown = TIME_CLAIMS.has(name) ? showDate(value, now) : showValue(value);
      lines.push(`  ${printable(name).padEnd(width)}  ${shown}`);
    }
  }
  if (decoded.problem) lines.push(`claims   not shown: ${decoded.problem}`);
  return lines;
}

function headerLines(layer: Layer): string[] {
  const entries = Object.entries(layer.header);
  const width = Math.max(...entries.map(([k]) => printable(k).length), 3);
  const lines = entries.map(
    ([name, value]) => `  ${printable(name).padEnd(width)}  ${showValue(headerValue(name, value))}`,
  );
  lines.push(
    layer.kind === 'JWS'
      ? `  (signature: ${layer.signatureBytes} bytes, not shown)`
      : `  (encrypted key ${layer.encryptedKeyBytes} bytes, ciphertext ${layer.ciphertextBytes} bytes, not shown)`,
  );
  return lines;
}

/** Runs `inspect`; returns the lines to print (text or one JSON object). */
export async function inspect(
  token: string,
  keys: readonly JWK[],
  now: number,
  json: boolean,
): Promise<string> {
  const decoded = await decodeToken(token, keys);
  return json
    ? JSON.stringify(inspectJson(decoded, now), null, 2)
    : inspectText(decoded, now).join('\n');
}
