// The gate's sender-constraint step with a stand-in request: what the conformance suite cannot
// reach through a real server (slow or failing replay stores, the challenge table, err.headers).
import type { IncomingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { VerificationError, createGate, extractCredentials, toHttpError } from '../src/index.js';
import type {
  GateOptions,
  ReplayStore,
  VerificationErrorCode,
  VerifiedToken,
} from '../src/index.js';
import { createClock } from '@tokengate/test-fixtures/clock';
import { createDpopKey, proof } from '@tokengate/test-fixtures/dpop';
import { issuerJwks } from '@tokengate/test-fixtures/keys';
import { AUDIENCE, ISSUER, claims, sign } from '@tokengate/test-fixtures/tokens';
import { testPki } from '@tokengate/test-fixtures/tls';

interface FakeRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  socket?: object;
}

const ORIGIN = 'http://api.test';
const key = await createDpopKey();
const pki = await testPki();
const silent = { warn: () => {}, error: () => {} };

function gate(extra: Partial<GateOptions<FakeRequest>> = {}) {
  const clock = createClock();
  return createGate<FakeRequest>(
    {
      issuer: ISSUER,
      audience: AUDIENCE,
      keys: issuerJwks,
      now: clock.now,
      logger: silent,
      ...extra,
    } as GateOptions<FakeRequest>,
    {
      raw: (req) => req,
      facts: (req) => ({ method: req.method, path: req.path }),
    },
  );
}

function request(headers: IncomingHttpHeaders, extra: Partial<FakeRequest> = {}): FakeRequest {
  return { method: 'GET', path: '/orders', headers: { host: 'api.test', ...headers }, ...extra };
}

async function dpopRequest(token: string, jti?: string): Promise<FakeRequest> {
  const dpop = await proof(key, { htu: `${ORIGIN}/orders`, token, jti });
  return request({ authorization: `DPoP ${token}`, dpop });
}

async function outcome(
  run: () => VerifiedToken | undefined | Promise<VerifiedToken | undefined>,
): Promise<VerificationErrorCode | 'ok'> {
  try {
    await run();
    return 'ok';
  } catch (err) {
    if (err instanceof VerificationError) return err.code;
    throw err;
  }
}

const bound = () => sign(claims({ cnf: { jkt: key.jkt } }));

describe('binding without DPoP or mTLS configured', () => {
  const cases: { name: string; cnf: unknown; code: VerificationErrorCode | 'ok' }[] = [
    { name: 'no cnf passes', cnf: undefined, code: 'ok' },
    { name: 'cnf.jkt as Bearer is refused', cnf: { jkt: 'x' }, code: 'token_binding_mismatch' },
    {
      name: 'cnf x5t#S256 without a TLS socket is refused',
      cnf: { 'x5t#S256': pki.client.x5tS256 },
      code: 'token_binding_mismatch',
    },
    // RFC 7800 methods tokengate cannot check (jwk, jku, kid, ...): never a plain bearer token.
    ...['jwk', 'jku', 'kid', 'jwe', 'x5t', 'unknown'].map((member) => ({
      name: `cnf.${member} alone is refused`,
      cnf: { [member]: 'k' },
      code: 'token_binding_mismatch' as const,
    })),
    {
      name: 'cnf.jkt with another member is refused',
      cnf: { jkt: key.jkt, jwk: {} },
      code: 'token_binding_mismatch',
    },
    { name: 'an empty cnf passes', cnf: {}, code: 'ok' },
    { name: 'cnf that is an array', cnf: ['jkt'], code: 'claim_invalid' },
    { name: 'cnf that is not an object', cnf: 'jkt', code: 'claim_invalid' },
    { name: 'cnf.jkt that is not a string', cnf: { jkt: 1 }, code: 'claim_invalid' },
  ];
  it.each(cases)('$name', async ({ cnf, code }) => {
    const g = gate();
    const token = await sign(claims({ cnf }));
    expect(await outcome(() => g.authenticate(request({ authorization: `Bearer ${token}` })))).toBe(
      code,
    );
  });

  it('Authorization: DPoP is another scheme (no credentials) while DPoP is off', async () => {
    const g = gate();
    expect(await outcome(async () => g.authenticate(await dpopRequest(await bound())))).toBe(
      'token_missing',
    );
  });
});

describe('replay stores', () => {
  it('an asynchronous store: first use passes, the replay is refused', async () => {
    const seen = new Set<string>();
    const replayStore: ReplayStore = {
      add: async (k) => !seen.has(k) && !!seen.add(k),
    };
    const g = gate({ dpop: { replayStore } });
    const req = await dpopRequest(await bound());
    expect(await outcome(() => g.authenticate(req))).toBe('ok');
    expect(await outcome(() => g.authenticate(req))).toBe('dpop_proof_invalid');
  });

  it('gets a TTL that covers the rest of the iat window', async () => {
    const ttls: number[] = [];
    const g = gate({ dpop: { replayStore: { add: (_k, ttl) => !!ttls.push(ttl) } } });
    await g.authenticate(await dpopRequest(await bound()));
    expect(ttls).toEqual([61]);
  });

  const failing: { name: string; store: ReplayStore }[] = [
    {
      name: 'throws',
      store: {
        add: () => {
          throw new Error('down');
        },
      },
    },
    { name: 'rejects', store: { add: () => Promise.reject(new Error('down')) } },
  ];
  it.each(failing)('a store that $name fails closed with 503', async ({ store }) => {
    const g = gate({ dpop: { replayStore: store } });
    const req = await dpopRequest(await bound());
    const err = await Promise.resolve()
      .then(() => g.authenticate(req))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'replay_store_unavailable', status: 503 });
    expect(g.reject(err as VerificationError, req).headers).toEqual({ 'Retry-After': '30' });
  });

  it('a store is never asked about a proof that fails another check', async () => {
    let asked = 0;
    const g = gate({ dpop: { replayStore: { add: () => !!++asked } } });
    const token = await bound();
    const wrongMethod = { ...(await dpopRequest(token)), method: 'POST' };
    expect(await outcome(() => g.authenticate(wrongMethod))).toBe('dpop_proof_invalid');
    expect(asked).toBe(0);
  });
});

describe('the request URL', () => {
  it('`origin` replaces scheme and host; the path comes from the request', async () => {
    const g = gate({ dpop: { origin: 'https://public.test' } });
    const token = await bound();
    const dpop = await proof(key, { htu: 'https://public.test/orders', token });
    const req = request({ authorization: `DPoP ${token}`, dpop, host: 'internal:8080' });
    expect(await outcome(() => g.authenticate(req))).toBe('ok');
  });

  it('`url` gives the whole URL', async () => {
    const g = gate({ dpop: { url: (req) => `https://public.test/v1${req.path}` } });
    const token = await bound();
    const dpop = await proof(key, { htu: 'https://public.test/v1/orders', token });
    expect(
      await outcome(() => g.authenticate(request({ authorization: `DPoP ${token}`, dpop }))),
    ).toBe('ok');
  });

  it('https comes from the TLS socket', async () => {
    const g = gate({ dpop: {} });
    const token = await bound();
    const dpop = await proof(key, { htu: 'https://api.test/orders', token });
    const req = request({ authorization: `DPoP ${token}`, dpop }, { socket: { encrypted: true } });
    expect(await outcome(() => g.authenticate(req))).toBe('ok');
  });
});

describe('mTLS from a proxy header', () => {
  it('reads the certificate through `mtls.certificate`', async () => {
    const g = gate({
      mtls: { certificate: (req) => decodeURIComponent(String(req.headers['x-client-cert'])) },
    });
    const token = await sign(claims({ cnf: { 'x5t#S256': pki.client.x5tS256 } }));
    const auth = { authorization: `Bearer ${token}` };
    const mine = request({ ...auth, 'x-client-cert': encodeURIComponent(pki.client.cert) });
    const theirs = request({ ...auth, 'x-client-cert': encodeURIComponent(pki.otherClient.cert) });
    expect(await outcome(() => g.authenticate(mine))).toBe('ok');
    expect(await outcome(() => g.authenticate(theirs))).toBe('token_binding_mismatch');
    expect(await outcome(() => g.authenticate(request(auth)))).toBe('token_binding_mismatch');
  });
});

describe('mtls.required', () => {
  const required = () =>
    gate({
      mtls: {
        required: true,
        certificate: (req) => decodeURIComponent(String(req.headers['x-client-cert'] ?? '')),
      },
      dpop: { mode: 'allowed' },
    });
  const cert = { 'x-client-cert': encodeURIComponent(pki.client.cert) };

  it('refuses a plain bearer token, also with a certificate, and a cached one', async () => {
    const g = required();
    const token = await sign(claims());
    const req = request({ authorization: `Bearer ${token}`, ...cert });
    expect(await outcome(() => g.authenticate(req))).toBe('token_binding_mismatch');
    // A warm token cache (another gate's verifier) does not skip the requirement.
    const open = createGate<FakeRequest>(
      { verifier: g.verifier, logger: silent },
      { raw: (r) => r, facts: (r) => ({ method: r.method, path: r.path }) },
    );
    expect(await outcome(() => open.authenticate(req))).toBe('ok');
    expect(await outcome(() => g.authenticate(req))).toBe('token_binding_mismatch');
  });

  it('refuses a token bound to a DPoP key only', async () => {
    const token = await bound();
    const dpop = await proof(key, { htu: `${ORIGIN}/orders`, token });
    const req = request({ authorization: `DPoP ${token}`, dpop, ...cert });
    expect(await outcome(() => required().authenticate(req))).toBe('token_binding_mismatch');
  });

  it('accepts a certificate-bound token with its certificate', async () => {
    const token = await sign(claims({ cnf: { 'x5t#S256': pki.client.x5tS256 } }));
    const req = request({ authorization: `Bearer ${token}`, ...cert });
    expect(await outcome(() => required().authenticate(req))).toBe('ok');
  });
});

describe('challenges', () => {
  const ALGS = 'algs="ES256 ES384 PS256 RS256 EdDSA Ed25519"';
  const cases: {
    name: string;
    code: VerificationErrorCode;
    context: Parameters<typeof toHttpError>[1];
    challenge: string;
  }[] = [
    {
      name: 'Bearer only (no DPoP configured)',
      code: 'token_binding_mismatch',
      context: {},
      challenge:
        'Bearer error="invalid_token", error_description="token is not bound to the presented key or certificate"',
    },
    {
      name: 'both schemes, no credentials',
      code: 'token_missing',
      context: { dpopAlgs: ['ES256'] },
      challenge: 'Bearer, DPoP algs="ES256"',
    },
    {
      name: 'both schemes, error on the Bearer request',
      code: 'token_expired',
      context: { dpopAlgs: ['ES256'], scheme: 'bearer' },
      challenge:
        'Bearer error="invalid_token", error_description="token has expired", DPoP algs="ES256"',
    },
    {
      name: 'both schemes, error on the DPoP request',
      code: 'token_expired',
      context: { dpopAlgs: ['ES256'], scheme: 'dpop', realm: 'api' },
      challenge:
        'Bearer realm="api", DPoP realm="api", error="invalid_token", error_description="token has expired", algs="ES256"',
    },
    {
      name: 'a proof error is always on DPoP',
      code: 'dpop_proof_invalid',
      context: { dpopAlgs: ['ES256'], scheme: 'bearer' },
      challenge:
        'Bearer, DPoP error="invalid_dpop_proof", error_description="DPoP proof is invalid", algs="ES256"',
    },
    {
      name: 'DPoP only',
      code: 'token_binding_mismatch',
      context: { bearer: false, dpopAlgs: ['ES256', 'EdDSA'] },
      challenge:
        'DPoP error="invalid_token", error_description="token is not bound to the presented key or certificate", algs="ES256 EdDSA"',
    },
    {
      name: 'DPoP only, scope',
      code: 'scope_insufficient',
      context: { bearer: false, dpopAlgs: ['ES256'] },
      challenge:
        'DPoP error="insufficient_scope", error_description="token lacks the required scope", algs="ES256"',
    },
  ];
  it.each(cases)('$name', ({ code, context, challenge }) => {
    expect(toHttpError(new VerificationError(code), context).headers).toEqual({
      'WWW-Authenticate': challenge,
    });
  });

  it(`answers a required nonce with use_dpop_nonce and DPoP-Nonce (${ALGS.slice(0, 4)}…)`, async () => {
    const g = gate({ dpop: { mode: 'required', nonce: { secret: 'x'.repeat(32) } } });
    const req = await dpopRequest(await bound());
    const err = (await Promise.resolve()
      .then(() => g.authenticate(req))
      .catch((e: unknown) => e)) as VerificationError;
    expect(err.code).toBe('dpop_nonce_required');
    const res = g.reject(err, req);
    expect(res.headers['WWW-Authenticate']).toBe(
      `DPoP error="use_dpop_nonce", error_description="DPoP proof must carry the server nonce", ${ALGS}`,
    );
    expect(res.headers['DPoP-Nonce']).toMatch(/^[\w-]{30}$/);
    expect(res.body).toEqual({
      error: 'use_dpop_nonce',
      error_description: 'DPoP proof must carry the server nonce',
    });
    // What a framework's own error handler sends (Express passErrors) is the same answer.
    expect(err.headers).toEqual(res.headers);
  });
});

describe('extractCredentials', () => {
  const cases: { name: string; authorization: string; dpop: boolean; want: unknown }[] = [
    {
      name: 'Bearer',
      authorization: 'Bearer a.b.c',
      dpop: true,
      want: { scheme: 'bearer', token: 'a.b.c' },
    },
    {
      name: 'DPoP when read',
      authorization: 'DPoP a.b.c',
      dpop: true,
      want: { scheme: 'dpop', token: 'a.b.c' },
    },
    {
      name: 'dpop in lower case',
      authorization: 'dpop a.b.c',
      dpop: true,
      want: { scheme: 'dpop', token: 'a.b.c' },
    },
    { name: 'DPoP when not read', authorization: 'DPoP a.b.c', dpop: false, want: undefined },
  ];
  it.each(cases)('$name', ({ authorization, dpop, want }) => {
    expect(extractCredentials({ headers: { authorization } }, dpop)).toEqual(want);
  });

  it.each(['DPoP', 'DPoP a b'])('%s is request_invalid when DPoP is read', (authorization) => {
    expect(() => extractCredentials({ headers: { authorization } }, true)).toThrow(
      expect.objectContaining({ code: 'request_invalid' }),
    );
  });
});
