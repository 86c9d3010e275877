import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { certificateThumbprint } from '../src/index.js';
import { assertCertificateBinding, normalizeMtls } from '../src/binding/mtls.js';
import { peerCertificate } from '../src/http/credentials.js';
import { testPki } from '@tokengate/test-fixtures/tls';

const { client, otherClient } = await testPki();
const der = new X509Certificate(client.cert).raw;

describe('certificateThumbprint', () => {
  it('is base64url SHA-256 of the DER bytes, from DER or PEM', () => {
    expect(certificateThumbprint(der)).toBe(client.x5tS256);
    expect(certificateThumbprint(client.cert)).toBe(client.x5tS256);
  });

  it('a PEM that does not parse is token_binding_mismatch', () => {
    expect(() => certificateThumbprint('-----BEGIN CERTIFICATE-----\nnope')).toThrow(
      expect.objectContaining({ code: 'token_binding_mismatch' }),
    );
  });
});

describe('assertCertificateBinding', () => {
  it('passes for the bound certificate', () => {
    expect(() => assertCertificateBinding(client.x5tS256, der)).not.toThrow();
  });

  const refused: { name: string; certificate: Uint8Array | string | undefined; reason: RegExp }[] =
    [
      { name: 'no certificate', certificate: undefined, reason: /without a client certificate/ },
      { name: 'an empty certificate', certificate: new Uint8Array(), reason: /without/ },
      { name: 'another certificate', certificate: otherClient.cert, reason: /does not match/ },
    ];
  it.each(refused)('refuses $name', ({ certificate, reason }) => {
    expect(() => assertCertificateBinding(client.x5tS256, certificate)).toThrow(
      expect.objectContaining({
        code: 'token_binding_mismatch',
        reason: expect.stringMatching(reason),
      }),
    );
  });
});

describe('peerCertificate', () => {
  it('reads raw DER from a TLS socket and nothing from a plain one', () => {
    expect(peerCertificate({ getPeerCertificate: () => ({ raw: der }) })).toBe(der);
    expect(peerCertificate({ getPeerCertificate: () => ({}) })).toBeUndefined();
    expect(peerCertificate({ encrypted: undefined })).toBeUndefined();
    expect(peerCertificate(undefined)).toBeUndefined();
  });
});

it('"mtls.required" must be a boolean', () => {
  expect(() => normalizeMtls({ required: 'yes' as never })).toThrow(TypeError);
  expect(() => normalizeMtls({ required: true })).not.toThrow();
});

it('"mtls.certificate" must be a function', () => {
  expect(() => normalizeMtls({ certificate: 'x-client-cert' as never })).toThrow(TypeError);
});
