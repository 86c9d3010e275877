// Attack class: claims that are the wrong type, absurd, or almost right (RFC 7519 §4.1, RFC 8725
// §3.8-3.11, RFC 9068). Payloads are written as raw JSON text, so values JSON.stringify cannot
// produce (1e400, -0, exponent forms) are sent as an issuer could. Through real HTTP in every
// adapter.
import { AUDIENCE, ISSUER, NOW, claims } from '@tokengate/test-fixtures/tokens';
import { craftJws, esHeader } from './craft.js';
import { describeAttacks } from './harness.js';
import type { AttackCase } from './harness.js';
import type { VerificationErrorCode } from '@tokengate/core';

/** The fixture claim set with some members replaced by raw JSON text (or removed: `null`). */
function payloadWith(raw: Record<string, string | null>, base = claims()): string {
  const kept = Object.fromEntries(Object.entries(base).filter(([k]) => !(k in raw)));
  const extra = Object.entries(raw)
    .filter(([, v]) => v !== null)
    .map(([k, v]) => `${JSON.stringify(k)}:${v}`);
  const text = JSON.stringify(kept);
  return extra.length ? `${text.slice(0, -1)},${extra.join(',')}}` : text;
}

const token =
  (raw: Record<string, string | null>, header = esHeader()) =>
  () =>
    craftJws({ header, payload: payloadWith(raw) });

type Row = [
  what: string,
  raw: Record<string, string | null>,
  expect: VerificationErrorCode | 'accepted',
];
const rows = (rows: Row[]): AttackCase[] =>
  rows.map(([what, raw, expect]) => ({ name: what, token: token(raw), expect }));

const q = (value: string) => JSON.stringify(value);

const timeCases = rows([
  // exp
  ['exp as a numeric string', { exp: q(String(NOW + 300)) }, 'claim_invalid'],
  [
    'exp a float in the future (NumericDate may be fractional)',
    { exp: `${NOW + 300}.5` },
    'accepted',
  ],
  ['exp a float 4.5 s ago (tolerance 5 s)', { exp: `${NOW - 5}.5` }, 'accepted'],
  ['exp a float 5.5 s ago (tolerance 5 s)', { exp: `${NOW - 6}.5` }, 'token_expired'],
  ['exp in exponent form (1.7672259e9 = NOW + 300)', { exp: `${(NOW + 300) / 1e9}e9` }, 'accepted'],
  ['exp negative', { exp: '-1' }, 'claim_invalid'],
  [
    'exp exactly 5 s ago (tolerance 5 s; RFC 7519 §4.1.4)',
    { exp: String(NOW - 5) },
    'token_expired',
  ],
  ['exp zero', { exp: '0' }, 'token_expired'],
  ['exp minus zero', { exp: '-0' }, 'token_expired'],
  ['exp 1e308', { exp: '1e308' }, 'claim_invalid'],
  ['exp 1e400 (parses as Infinity)', { exp: '1e400' }, 'claim_invalid'],
  ['exp -1e400 (parses as -Infinity)', { exp: '-1e400' }, 'claim_invalid'],
  ['exp in the year 10000', { exp: '253402300800' }, 'claim_invalid'],
  ['exp on the last second of 9999', { exp: '253402300799' }, 'accepted'],
  ['exp "NaN"', { exp: q('NaN') }, 'claim_invalid'],
  ['exp "Infinity"', { exp: q('Infinity') }, 'claim_invalid'],
  ['exp null', { exp: 'null' }, 'claim_invalid'],
  ['exp true', { exp: 'true' }, 'claim_invalid'],
  ['exp in an array', { exp: `[${NOW + 300}]` }, 'claim_invalid'],
  ['exp an object', { exp: `{"value":${NOW + 300}}` }, 'claim_invalid'],
  ['exp missing', { exp: null }, 'claim_missing'],
  // nbf
  ['nbf as a string', { nbf: q(String(NOW)) }, 'claim_invalid'],
  ['nbf 6 s ahead (tolerance 5 s)', { nbf: String(NOW + 6) }, 'token_not_yet_valid'],
  ['nbf 5 s ahead (tolerance 5 s)', { nbf: String(NOW + 5) }, 'accepted'],
  ['nbf a float 5.5 s ahead', { nbf: `${NOW + 5}.5` }, 'token_not_yet_valid'],
  ['nbf negative', { nbf: '-100' }, 'claim_invalid'],
  ['nbf 1e400', { nbf: '1e400' }, 'claim_invalid'],
  ['nbf 1e308', { nbf: '1e308' }, 'claim_invalid'],
  // iat
  ['iat as a string', { iat: q(String(NOW)) }, 'claim_invalid'],
  ['iat 6 s in the future', { iat: String(NOW + 6) }, 'token_not_yet_valid'],
  ['iat 5 s in the future (tolerance 5 s, as nbf)', { iat: String(NOW + 5) }, 'accepted'],
  ['iat negative', { iat: '-1' }, 'claim_invalid'],
  ['iat 1e308', { iat: '1e308' }, 'claim_invalid'],
  ['iat -1e400', { iat: '-1e400' }, 'claim_invalid'],
]);

timeCases.push(
  {
    name: 'iat missing when maxTokenAge is set',
    options: () => ({ maxTokenAge: '15m' }),
    token: token({ iat: null }),
    expect: 'claim_missing',
  },
  {
    name: 'iat 15 min 6 s old (maxTokenAge 15 min, tolerance 5 s)',
    options: () => ({ maxTokenAge: '15m' }),
    token: token({ iat: String(NOW - 906) }),
    expect: 'token_too_old',
  },
);

// aud must contain the configured audience exactly: no prefix, case, Unicode or trim games.
const audienceCases = rows([
  [
    'aud array with the audience among others',
    { aud: JSON.stringify(['api://other', AUDIENCE]) },
    'accepted',
  ],
  ['aud empty array', { aud: '[]' }, 'audience_mismatch'],
  ['aud with a trailing slash', { aud: q(`${AUDIENCE}/`) }, 'audience_mismatch'],
  ['aud upper-cased scheme', { aud: q(AUDIENCE.replace('api', 'API')) }, 'audience_mismatch'],
  [
    'aud with a Cyrillic "е" (U+0435)',
    { aud: q(AUDIENCE.replace('e', '\u0435')) },
    'audience_mismatch',
  ],
  ['aud with a fullwidth "ｏ"', { aud: q(AUDIENCE.replace('o', '\uff4f')) }, 'audience_mismatch'],
  ['aud with a trailing NUL', { aud: q(`${AUDIENCE}\u0000`) }, 'audience_mismatch'],
  ['aud with a leading space', { aud: q(` ${AUDIENCE}`) }, 'audience_mismatch'],
  ['aud with a zero-width space', { aud: q(`${AUDIENCE}\u200b`) }, 'audience_mismatch'],
  ['aud a prefix of the audience', { aud: q(AUDIENCE.slice(0, -1)) }, 'audience_mismatch'],
  ['aud the audience plus a suffix', { aud: q(`${AUDIENCE}-evil`) }, 'audience_mismatch'],
  ['aud two audiences in one string', { aud: q(`api://billing ${AUDIENCE}`) }, 'audience_mismatch'],
  ['aud nested array', { aud: JSON.stringify([[AUDIENCE]]) }, 'claim_invalid'],
  ['aud an object', { aud: JSON.stringify({ 0: AUDIENCE }) }, 'claim_invalid'],
  ['aud a number', { aud: '42' }, 'claim_invalid'],
  ['aud null', { aud: 'null' }, 'claim_invalid'],
  ['aud array with a non-string', { aud: JSON.stringify([AUDIENCE, 5]) }, 'claim_invalid'],
  ['aud missing', { aud: null }, 'audience_mismatch'],
]);

// iss is compared exactly, before any key is looked up.
const issuerCases = rows([
  ['iss without the trailing slash', { iss: q(ISSUER.slice(0, -1)) }, 'issuer_mismatch'],
  ['iss with a doubled slash', { iss: q(`${ISSUER}/`) }, 'issuer_mismatch'],
  ['iss upper-cased', { iss: q(ISSUER.toUpperCase()) }, 'issuer_mismatch'],
  [
    'iss with a Cyrillic "і" (U+0456)',
    { iss: q(ISSUER.replace('i', '\u0456')) },
    'issuer_mismatch',
  ],
  ['iss with a trailing NUL', { iss: q(`${ISSUER}\u0000`) }, 'issuer_mismatch'],
  ['iss with a path appended', { iss: q(`${ISSUER}evil`) }, 'issuer_mismatch'],
  ['iss in an array', { iss: JSON.stringify([ISSUER]) }, 'issuer_mismatch'],
  ['iss null', { iss: 'null' }, 'issuer_mismatch'],
  ['iss missing', { iss: null }, 'issuer_mismatch'],
]);

const typeCases = rows([
  ['sub a number', { sub: '123' }, 'claim_invalid'],
  ['sub an object', { sub: '{"id":"admin"}' }, 'claim_invalid'],
  // `scope` is judged only where a scope guard reads it (the conformance table covers that).
  ['scope an array of strings', { scope: JSON.stringify(['orders:read']) }, 'accepted'],
  ['scope a number (no scope guard here)', { scope: '7' }, 'accepted'],
  ['jti a number', { jti: '7' }, 'claim_invalid'],
]);

// An ID token is not an access token (RFC 9068 §4, RFC 8725 §3.11): explicit typing.
const atJwt = () => ({ profile: 'at+jwt' as const });
const accessClaims = { client_id: q('client-1'), jti: q('jti-1') };
const typRows: [string, string | undefined, VerificationErrorCode | 'accepted'][] = [
  ['typ at+jwt', 'at+jwt', 'accepted'],
  ['typ application/at+jwt', 'application/at+jwt', 'accepted'],
  ['typ AT+JWT', 'AT+JWT', 'accepted'],
  ['an ID token (typ JWT)', 'JWT', 'typ_mismatch'],
  ['typ missing', undefined, 'typ_mismatch'],
  ['typ "at+jwt " (trailing space)', 'at+jwt ', 'typ_mismatch'],
  ['typ application/jwt', 'application/jwt', 'typ_mismatch'],
  ['typ with a parameter', 'at+jwt; charset=utf-8', 'typ_mismatch'],
  ['typ "application/application/at+jwt"', 'application/application/at+jwt', 'typ_mismatch'],
];
const typCases: AttackCase[] = typRows.map(([what, typ, expect]) => ({
  name: `profile at+jwt: ${what}`,
  options: atJwt,
  token: token({ ...accessClaims, nonce: q('n-1') }, esHeader({ typ })),
  expect,
}));
typCases.push(
  {
    name: 'profile at+jwt: an ID token with typ at+jwt but no client_id',
    options: atJwt,
    token: token({ jti: q('jti-1') }, esHeader()),
    expect: 'claim_missing',
  },
  {
    name: 'required claim present as null',
    options: () => ({ requiredClaims: ['tenant'] }),
    token: token({ tenant: 'null' }),
    expect: 'claim_missing',
  },
);

describeAttacks([...timeCases, ...audienceCases, ...issuerCases, ...typeCases, ...typCases]);
