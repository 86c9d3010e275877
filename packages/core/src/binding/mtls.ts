import { X509Certificate, createHash } from 'node:crypto';
import { VerificationError } from '../errors.js';

/** Certificate-bound access tokens (RFC 8705 §3): where the client certificate comes from. */
export interface MtlsOptions<Req = unknown> {
  /**
   * Warning: trust only a header that your proxy sets and strips from client requests; anyone
   * else could name any certificate. Reads the client certificate when TLS ends at a proxy: DER
   * bytes or a PEM string (URL-decode nginx's `$ssl_client_escaped_cert` first); `undefined`
   * when there is none. Default: the peer certificate of the TLS socket (`requestCert: true`).
   */
  certificate?: (req: Req) => Uint8Array | string | null | undefined;
  /**
   * Only certificate-bound tokens (RFC 8705 §3: `cnf["x5t#S256"]`) are accepted: a plain bearer
   * token, or one bound to a DPoP key only, is refused with `token_binding_mismatch`, as where a
   * policy mandates certificate-bound tokens. Default false.
   */
  required?: boolean;
}

/** Validates the `mtls` option. */
export function normalizeMtls<Req>(options: MtlsOptions<Req> | undefined): MtlsOptions<Req> {
  const given = options ?? {};
  if (typeof given !== 'object' || given === null) throw new TypeError('"mtls" must be an object');
  if (given.certificate !== undefined && typeof given.certificate !== 'function') {
    throw new TypeError('"mtls.certificate" must be a function');
  }
  if (given.required !== undefined && typeof given.required !== 'boolean') {
    throw new TypeError('"mtls.required" must be a boolean');
  }
  return given;
}

/** `x5t#S256` of a certificate (RFC 8705 §3.1): base64url SHA-256 of its DER bytes. */
export function certificateThumbprint(certificate: Uint8Array | string): string {
  let der: Uint8Array;
  if (typeof certificate === 'string') {
    try {
      der = new X509Certificate(certificate).raw;
    } catch (cause) {
      throw new VerificationError('token_binding_mismatch', {
        reason: 'client certificate is unreadable',
        cause,
      });
    }
  } else {
    der = certificate;
  }
  return createHash('sha256').update(der).digest('base64url');
}

/** Checks a token's `cnf["x5t#S256"]` against the certificate of the request. */
export function assertCertificateBinding(
  expected: string,
  certificate: Uint8Array | string | null | undefined,
): void {
  if (certificate === undefined || certificate === null || certificate.length === 0) {
    throw new VerificationError('token_binding_mismatch', {
      reason: 'certificate-bound token came without a client certificate',
    });
  }
  if (certificateThumbprint(certificate) !== expected) {
    throw new VerificationError('token_binding_mismatch', {
      reason: 'client certificate does not match "x5t#S256"',
    });
  }
}
