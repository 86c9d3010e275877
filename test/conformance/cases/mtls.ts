// Certificate-bound tokens (RFC 8705) over a real HTTPS server that asks for a client certificate.
import { claims, sign } from '@tokengate/test-fixtures/tokens';
import type { Case } from './case.js';
import { bindingRefused, ok } from './expect.js';
import { bearer, certBoundToken, pki } from './requests.js';

export const mtlsCases: Case[] = [
  // RFC 7800 methods tokengate cannot check: never accepted as a plain bearer token.
  ...['jwk', 'jku', 'kid'].map((member): Case => ({
    name: `binding: a token bound by cnf.${member} is refused`,
    request: async () => bearer(await sign(claims({ cnf: { [member]: 'k' } }))),
    expect: bindingRefused('bearer only', 'token is bound by an unsupported confirmation method'),
  })),
  {
    name: 'mTLS: certificate-bound token with the bound client certificate',
    tls: true,
    request: async () => ({ ...bearer(await certBoundToken()), certificate: pki.client }),
    expect: ok(),
  },
  {
    name: 'mTLS: certificate-bound token without a client certificate',
    tls: true,
    request: async () => bearer(await certBoundToken()),
    expect: bindingRefused(
      'bearer only',
      'certificate-bound token came without a client certificate',
    ),
  },
  {
    name: 'mTLS: certificate-bound token with another client certificate',
    tls: true,
    request: async () => ({ ...bearer(await certBoundToken()), certificate: pki.otherClient }),
    expect: bindingRefused('bearer only', 'client certificate does not match "x5t#S256"'),
  },
  {
    name: 'mTLS required: a plain bearer token is refused, even over a client certificate',
    tls: true,
    options: () => ({ mtls: { required: true } }),
    request: async () => ({ ...bearer(await sign(claims())), certificate: pki.client }),
    expect: bindingRefused('bearer only', 'certificate-bound token required'),
  },
  {
    name: 'mTLS required: a certificate-bound token with its certificate',
    tls: true,
    options: () => ({ mtls: { required: true } }),
    request: async () => ({ ...bearer(await certBoundToken()), certificate: pki.client }),
    expect: ok(),
  },
  {
    name: 'mTLS: an unbound token needs no certificate',
    tls: true,
    request: async () => bearer(await sign(claims())),
    expect: ok(),
  },
];
