// What the rows send: the keys and tokens they share, request builders and option presets.
// Everything here is defined before any row uses it.
import { createDpopKey, proof } from '@tokengate/test-fixtures/dpop';
import type { DpopKey, ProofOptions } from '@tokengate/test-fixtures/dpop';
import { rogueKey } from '@tokengate/test-fixtures/keys';
import { testPki } from '@tokengate/test-fixtures/tls';
import { ISSUER, claims, sign } from '@tokengate/test-fixtures/tokens';
import { ROUTES } from '../drivers.js';
import type { NeutralOptions, RouteName, RunningApp } from '../drivers.js';
import type { CaseEnv, Outgoing } from './case.js';

// --- Keys and tokens the rows share ------------------------------------------------------------

/** The DPoP client whose key tokens are bound to, and a client they are not bound to. */
export const dpopClient = await createDpopKey();
export const strangerKey = await createDpopKey();
/** The test CA, the server identity and two client certificates (mTLS rows). */
export const pki = await testPki();

/** A token bound to `dpopClient`'s key (`cnf.jkt`). */
export const boundToken = () => sign(claims({ cnf: { jkt: dpopClient.jkt } }));
/** A token bound to the test client certificate (`cnf["x5t#S256"]`). */
export const certBoundToken = () => sign(claims({ cnf: { 'x5t#S256': pki.client.x5tS256 } }));

// Tokens shared by the cache and replay rows: each minted once, at NOW, so a second request with
// it can hit the token cache a first request filled.
export const cachedToken = sign(claims());
export const cachedAdminToken = sign(claims({ role: 'admin' }));
export const cachedBoundToken = boundToken();

// --- Requests ----------------------------------------------------------------------------------

/** `Authorization: Bearer <token>` on `route`. */
export function bearer(token: string, route?: RouteName): Outgoing {
  return { route, headers: { authorization: `Bearer ${token}` }, secret: token };
}

/** `Authorization: DPoP <token>` and a proof for GET `<origin><route>` made for that token. */
export async function dpopRequest(
  origin: string,
  token: string,
  options: Partial<ProofOptions> & { route?: RouteName; signer?: DpopKey } = {},
): Promise<Outgoing> {
  const { route = 'open', signer = dpopClient, ...rest } = options;
  const dpop = await proof(signer, { htu: `${origin}${ROUTES[route]}`, token, ...rest });
  return { route, headers: { authorization: `DPoP ${token}`, dpop }, secret: token };
}

/** The DPoP proof header of `dpopRequest(origin, token)`, to send beside other credentials. */
export async function dpopProofFor(origin: string, token: string): Promise<string> {
  const { headers } = await dpopRequest(origin, token);
  return (headers as Record<string, string>).dpop!;
}

/** Sends `out` once to `app` and insists on 200 (a row's warm-up). Returns `out`. */
export async function sendOk(app: RunningApp, out: Outgoing): Promise<Outgoing> {
  const res = await app.http
    .get(ROUTES[out.route ?? 'open'])
    .set(out.headers as Record<string, string>);
  if (res.status !== 200) throw new Error(`warm-up answered ${res.status}`);
  return out;
}

// --- Option presets ----------------------------------------------------------------------------

/** The partner: a second trusted issuer with one static key. */
export const PARTNER = 'https://partner.test/';
/** Two trusted issuers: ours (its key server) and the partner. */
export const multiIssuer = ({ jwks }: Omit<CaseEnv, 'app'>): Partial<NeutralOptions> => ({
  issuer: undefined,
  jwksUri: undefined,
  issuers: [
    { issuer: ISSUER, jwksUri: jwks.url },
    { issuer: PARTNER, keys: [rogueKey.publicJwk] },
  ],
});

// Keys stay fresh for at most 60 s, then may be served stale for a day if the server fails.
export const shortLivedKeys = { jwks: { maxTtl: 60, maxStale: '24h' } };

/** The URL every receiver behind one load balancer is called at. */
export const PUBLIC_ORIGIN = 'https://api.test';

/** DPoP accepted beside Bearer (`mode: 'allowed'`), with `extra` DPoP settings. */
export const dpopAllowed = (
  extra: Partial<NonNullable<NeutralOptions['dpop']>> = {},
): Partial<NeutralOptions> => ({
  dpop: { mode: 'allowed', ...extra },
});

/** A server nonce the tests can predict. */
export const fixedNonce = {
  current: () => 'nonce-1',
  isValid: (nonce: string) => nonce === 'nonce-1',
};
