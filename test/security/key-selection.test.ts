// Attack class: the token tries to choose or bring its key (RFC 8725 §3.10, RFC 7515 §4.1.2-6),
// kids that are not plain strings, keys the key set must not use, and one issuer's keys vouching
// for another issuer. Every case runs through real HTTP in every adapter.
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, expect } from 'vitest';
import type { JWK } from 'jose';
import { startJwksServer } from '@tokengate/test-fixtures/jwks-server';
import type { JwksServer } from '@tokengate/test-fixtures/jwks-server';
import { createSigningKey, issuerJwks, signing } from '@tokengate/test-fixtures/keys';
import { claims } from '@tokengate/test-fixtures/tokens';
import { craftJws, esHeader, selfSignedCertificate } from './craft.js';
import { describeAttacks } from './harness.js';
import type { AttackCase, AttackEnv } from './harness.js';

const es256 = signing.es256;
const attacker = await createSigningKey('ES256', 'attacker-es256');
const attackerRsa = await createSigningKey('RS256', 'attacker-rs256');
const certificate = selfSignedCertificate(attacker).toString('base64');

// The attacker's own server: publishes the attacker's JWKS and certificate, counts requests.
let attackerServer: JwksServer;
beforeAll(async () => {
  attackerServer = await startJwksServer({ keys: [attacker.publicJwk, attackerRsa.publicJwk] });
  attackerServer.setHandler((req) =>
    req.path.startsWith('/cert.pem')
      ? {
          status: 200,
          headers: { 'content-type': 'application/pem-certificate-chain' },
          body: `-----BEGIN CERTIFICATE-----\n${certificate}\n-----END CERTIFICATE-----\n`,
        }
      : undefined,
  );
});
afterAll(() => attackerServer?.close());

const payload = () => claims() as Record<string, unknown>;
const neverContacted = () => expect(attackerServer.count()).toBe(0);

/** Header parameters that carry or point to a key the attacker controls. */
const carriers: [string, () => Record<string, unknown>][] = [
  ['jwk (embedded public key)', () => ({ jwk: attacker.publicJwk })],
  ['jku (attacker JWKS URL)', () => ({ jku: attackerServer.url })],
  ['x5u (attacker certificate URL)', () => ({ x5u: `${attackerServer.origin}/cert.pem` })],
  ['x5c (attacker self-signed certificate)', () => ({ x5c: [certificate] })],
  [
    'jwk, jku, x5u and x5c at once',
    () => ({
      jwk: attacker.publicJwk,
      jku: attackerServer.url,
      x5u: `${attackerServer.origin}/cert.pem`,
      x5c: [certificate],
    }),
  ],
];

const carriedKeyCases: AttackCase[] = carriers.flatMap(([what, params]): AttackCase[] => [
  {
    name: `${what}, no kid`,
    token: () =>
      craftJws({ header: { alg: 'ES256', ...params() }, payload: payload(), key: attacker }),
    // Without a kid the token may only try the issuer's own ES256 keys: none made this signature.
    expect: 'signature_invalid',
    after: neverContacted,
  },
  {
    name: `${what}, kid of the attacker key`,
    token: () =>
      craftJws({
        header: { alg: 'ES256', kid: attacker.kid, ...params() },
        payload: payload(),
        key: attacker,
      }),
    expect: 'kid_unknown',
    after: neverContacted,
  },
  {
    name: `${what}, kid of the issuer key`,
    token: () => craftJws({ header: esHeader(params()), payload: payload(), key: attacker }),
    expect: 'signature_invalid',
    after: neverContacted,
  },
]);
carriedKeyCases.push({
  name: 'jwk carrying an RSA key, RS256, kid of the attacker key',
  token: () =>
    craftJws({
      header: { alg: 'RS256', kid: attackerRsa.kid, jwk: attackerRsa.publicJwk },
      payload: payload(),
      key: attackerRsa,
    }),
  expect: 'kid_unknown',
  after: neverContacted,
});

// kid values that are not strings are malformed; strings that name Object built-ins are just
// strings that name no key.
const kidCases: AttackCase[] = [
  ...([1, 0, true, null, {}, [], [es256.kid], { toString: es256.kid }] as const).map(
    (kid): AttackCase => ({
      name: `kid ${JSON.stringify(kid)} (not a string)`,
      token: () => craftJws({ header: esHeader({ kid }), payload: payload() }),
      expect: 'token_malformed',
    }),
  ),
  ...[
    '__proto__',
    'constructor',
    'toString',
    'hasOwnProperty',
    'valueOf',
    '__defineGetter__',
    'prototype',
    '',
  ].map((kid): AttackCase => ({
    name: `kid ${JSON.stringify(kid)} (an Object built-in or empty)`,
    token: () => craftJws({ header: esHeader({ kid }), payload: payload() }),
    expect: 'kid_unknown',
  })),
  {
    name: 'kid "__proto__" published by the issuer verifies its own tokens',
    published: { keys: [{ ...es256.publicJwk, kid: '__proto__' }] },
    token: () => craftJws({ header: esHeader({ kid: '__proto__' }), payload: payload() }),
    expect: 'accepted',
  },
  {
    name: 'kid "constructor" against a set that publishes "__proto__"',
    published: { keys: [{ ...es256.publicJwk, kid: '__proto__' }] },
    token: () => craftJws({ header: esHeader({ kid: 'constructor' }), payload: payload() }),
    expect: 'kid_unknown',
  },
  {
    name: 'kid of 10,000 characters (logged capped)',
    token: () => craftJws({ header: esHeader({ kid: 'k'.repeat(10_000) }), payload: payload() }),
    expect: 'kid_unknown',
    after: ({ gate }: AttackEnv) => {
      const kid = gate.logger.rejections()[0]!.kid as string;
      expect(kid.length).toBeLessThanOrEqual(129);
    },
  },
  {
    name: 'kid of 3,000 non-ASCII characters (logged as ASCII, capped)',
    token: () =>
      craftJws({ header: esHeader({ kid: 'ķ\u202e'.repeat(1500) }), payload: payload() }),
    expect: 'kid_unknown',
    after: ({ gate }: AttackEnv) => {
      const kid = gate.logger.rejections()[0]!.kid as string;
      expect(kid).toMatch(/^[\x20-\x7e]{1,128}…?$/);
    },
  },
];

// Keys the issuer's set publishes but that must not verify: wrong use, wrong operations, weak.
const weakRsa = (() => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
  return {
    privateKey,
    publicJwk: { ...publicKey.export({ format: 'jwk' }), kid: 'rsa-1024', alg: 'RS256' } as JWK,
  };
})();
const rs256 = signing.rs256;
const withEs256As = (changes: Record<string, unknown>) => ({
  keys: [{ ...es256.publicJwk, ...changes }, rs256.publicJwk],
});
const skipped =
  (reason: RegExp) =>
  ({ gate }: AttackEnv) => {
    const warning = gate.logger.entries.find((e) => e.obj.event === 'jwks_keys_skipped');
    expect(JSON.stringify(warning?.obj.keys)).toMatch(reason);
  };

const unusableKeyCases: AttackCase[] = [
  ...(
    [
      ['use "enc"', { use: 'enc' }],
      ['use "sig " (not exactly "sig")', { use: 'sig ' }],
      ['key_ops ["encrypt"]', { key_ops: ['encrypt'] }],
      ['key_ops ["sign"] (no "verify")', { key_ops: ['sign'] }],
      ['key_ops "verify" (a string, not a list)', { key_ops: 'verify' }],
      ['key_ops [] (no operation)', { key_ops: [] }],
    ] as const
  ).map(([what, changes]): AttackCase => ({
    name: `published key with ${what} does not verify`,
    published: withEs256As(changes),
    token: () => craftJws({ header: esHeader(), payload: payload() }),
    expect: 'kid_unknown',
  })),
  {
    name: 'control: published key with key_ops ["verify"] verifies',
    published: withEs256As({ key_ops: ['verify'] }),
    token: () => craftJws({ header: esHeader(), payload: payload() }),
    expect: 'accepted',
  },
  {
    name: 'published RSA 1024-bit key does not verify (skipped and logged)',
    published: { keys: [weakRsa.publicJwk, es256.publicJwk] },
    token: () =>
      craftJws({
        header: { alg: 'RS256', kid: 'rsa-1024', typ: 'at+jwt' },
        payload: payload(),
        key: weakRsa.privateKey,
      }),
    expect: 'kid_unknown',
    after: skipped(/2048/),
  },
  ...(
    [
      ['e = 1', 'AQ'],
      ['an even e (65538)', 'AQAC'],
    ] as const
  ).map(([what, e]): AttackCase => ({
    name: `published RSA key with ${what} does not verify (refused, not a bad signature)`,
    published: { keys: [{ ...rs256.publicJwk, e }, es256.publicJwk] },
    token: () =>
      craftJws({ header: { alg: 'RS256', kid: rs256.kid }, payload: payload(), key: rs256 }),
    expect: 'kid_unknown',
    after: skipped(/exponent/),
  })),
];

// Two issuers, each with its own key server: A's keys never vouch for a token that claims B.
const ISSUER_A = 'https://a.issuer.test/';
const ISSUER_B = 'https://b.issuer.test/';
let serverA: JwksServer;
let serverB: JwksServer;
beforeAll(async () => {
  serverA = await startJwksServer({
    keys: [es256.publicJwk, { ...es256.publicJwk, kid: 'shared' }],
  });
  serverB = await startJwksServer({
    keys: [rs256.publicJwk, { ...signing.eddsa.publicJwk, kid: 'shared' }],
  });
});
afterAll(async () => {
  await serverA?.close();
  await serverB?.close();
});
const twoIssuers = () => ({
  issuers: [
    { issuer: ISSUER_A, jwksUri: serverA.url },
    { issuer: ISSUER_B, jwksUri: serverB.url },
  ],
});
const fromIssuer = (iss: unknown) => ({ ...payload(), iss });
let keyServerRequests = 0;

const issuerCases: AttackCase[] = [
  {
    name: 'control: issuer A token signed by A is accepted',
    options: twoIssuers,
    token: () => craftJws({ header: esHeader(), payload: fromIssuer(ISSUER_A) }),
    expect: 'accepted',
  },
  {
    name: 'control: issuer B token signed by B is accepted',
    options: twoIssuers,
    token: () =>
      craftJws({
        header: { alg: 'RS256', kid: rs256.kid },
        payload: fromIssuer(ISSUER_B),
        key: rs256,
      }),
    expect: 'accepted',
  },
  {
    name: 'token claiming B, signed by A, naming A kid',
    options: twoIssuers,
    token: () => craftJws({ header: esHeader(), payload: fromIssuer(ISSUER_B) }),
    expect: 'kid_unknown',
  },
  {
    name: 'token claiming B, signed by A, no kid',
    options: twoIssuers,
    token: () =>
      craftJws({ header: { alg: 'ES256', typ: 'at+jwt' }, payload: fromIssuer(ISSUER_B) }),
    expect: 'kid_unknown',
  },
  {
    name: 'token claiming B, signed by A, with a kid both issuers publish',
    options: twoIssuers,
    token: () => craftJws({ header: esHeader({ kid: 'shared' }), payload: fromIssuer(ISSUER_B) }),
    expect: 'kid_unknown',
  },
  {
    name: 'token claiming A, signed by B, naming B kid',
    options: twoIssuers,
    token: () =>
      craftJws({
        header: { alg: 'RS256', kid: rs256.kid },
        payload: fromIssuer(ISSUER_A),
        key: rs256,
      }),
    expect: 'kid_unknown',
  },
  {
    name: 'token claiming both issuers (iss array)',
    options: twoIssuers,
    token: () => craftJws({ header: esHeader(), payload: fromIssuer([ISSUER_A, ISSUER_B]) }),
    expect: 'issuer_mismatch',
  },
  {
    name: 'token claiming an issuer that is not listed costs no key lookup',
    options: twoIssuers,
    token: () => {
      keyServerRequests = serverA.count() + serverB.count();
      return craftJws({ header: esHeader(), payload: fromIssuer('https://c.issuer.test/') });
    },
    expect: 'issuer_mismatch',
    after: () => expect(serverA.count() + serverB.count()).toBe(keyServerRequests),
  },
];

describeAttacks([...carriedKeyCases, ...kidCases, ...unusableKeyCases, ...issuerCases], issuerJwks);
