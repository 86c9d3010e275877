// The request URL: Host and request target are attacker input (issue 13).
// A DPoP proof names one method and one URL (RFC 9449 §4.3 steps 9-10). Each "forged Host" row
// carries a valid proof for the URL that Host would have produced by pasting it in front of the
// path: before Host was checked, most of them passed (200) for a URL the proof was not made for.
import { claims, sign } from '@tokengate/test-fixtures/tokens';
import { ROUTES } from '../drivers.js';
import type { RunningApp } from '../drivers.js';
import type { Case, Outgoing } from './case.js';
import { badUrl, missing, ok, proofRejected } from './expect.js';
import { bearer, boundToken, dpopAllowed, dpopRequest } from './requests.js';

/** A DPoP request to `/orders` with a valid proof for `htu`, sent with these Host lines. */
async function withHosts(hosts: string[], htu: string): Promise<Outgoing> {
  return { ...(await dpopRequest('', await boundToken(), { htu })), hosts };
}

const hostOf = (app: RunningApp): string => new URL(app.origin).host;
const REWRITE_PREFIX = '/v1';

export const requestUrlCases: Case[] = [
  ...(
    [
      ['?', ['api.example?'], 'http://api.example/'],
      ['#', ['api.example#'], 'http://api.example/'],
      ['/ and ?', ['h/elsewhere?'], 'http://h/elsewhere'],
      ['/', ['api.example/admin'], 'http://api.example/admin/orders'],
      ['@', ['alice@api.example'], 'http://api.example/orders'],
      ['a space', ['api .example'], 'http://api .example/orders'],
      ['nothing (empty)', [''], 'http:///orders'],
    ] as const
  ).map(([what, hosts, htu]): Case => ({
    name: `request URL: DPoP with a Host holding ${what} is 400, whatever the proof names`,
    options: () => dpopAllowed(),
    request: async () => withHosts([...hosts], htu),
    expect: badUrl('Host is not host[:port]'),
  })),
  {
    name: 'request URL: DPoP with two Host headers is 400',
    options: () => dpopAllowed(),
    request: async ({ app }) =>
      withHosts([hostOf(app), 'evil.test'], `${app.origin}${ROUTES.open}`),
    expect: badUrl('several Host headers'),
  },
  {
    name: 'request URL: DPoP with a forged Host is 400 even when the proof is missing',
    options: () => dpopAllowed(),
    request: async () => {
      const token = await boundToken();
      return { headers: { authorization: `DPoP ${token}` }, secret: token, hosts: ['a.test?'] };
    },
    expect: badUrl('Host is not host[:port]'),
  },
  {
    name: 'request URL: Bearer requests do not depend on Host',
    options: () => dpopAllowed(),
    request: async () => ({ ...bearer(await sign(claims())), hosts: ['api.example?'] }),
    expect: ok(),
  },
  {
    name: 'request URL: DPoP with an absolute-form target (RFC 9112 §3.2.2): the target is the URL',
    options: () => dpopAllowed(),
    request: async ({ app }) => ({
      ...(await dpopRequest(app.origin, await boundToken())),
      target: `${app.origin}${ROUTES.open}`,
    }),
    expect: ok(),
  },
  {
    name: 'request URL: DPoP with an absolute-form target naming another host than Host is 400',
    options: () => dpopAllowed(),
    request: async ({ app }) => ({
      ...(await dpopRequest('http://evil.test', await boundToken())),
      target: `http://evil.test${ROUTES.open}`,
      hosts: [hostOf(app)],
    }),
    expect: badUrl('Host does not match the request target'),
  },
  {
    name: 'request URL: DPoP with Host naming another host than the absolute-form target is 400',
    options: () => dpopAllowed(),
    request: async ({ app }) => ({
      ...(await dpopRequest(app.origin, await boundToken())),
      target: `${app.origin}${ROUTES.open}`,
      hosts: ['evil.test'],
    }),
    expect: badUrl('Host does not match the request target'),
  },
  {
    name: 'request URL: DPoP with userinfo in an absolute-form target is 400 (RFC 9110 §4.2.4)',
    options: () => dpopAllowed(),
    request: async ({ app }) => ({
      ...(await dpopRequest(app.origin, await boundToken())),
      target: `http://alice:secret@${hostOf(app)}${ROUTES.open}`,
    }),
    expect: badUrl('request target carries userinfo'),
  },
  {
    name: 'request URL: Bearer with an absolute-form target',
    request: async ({ app }) => ({
      ...bearer(await sign(claims())),
      target: `${app.origin}${ROUTES.open}`,
    }),
    expect: ok(),
  },
  {
    name: 'request URL: the log names the path of an absolute-form target, never userinfo or query',
    request: async ({ app }) => ({
      target: `http://alice:s3cr3t-userinfo@${hostOf(app)}${ROUTES.open}?access_token=x`,
      secret: 's3cr3t-userinfo',
    }),
    expect: missing,
  },
  {
    name: 'request URL: the log names the path of an origin-form target, never its query',
    request: async () => ({
      target: `${ROUTES.open}?access_token=secret-in-query&page=2`,
      secret: 'secret-in-query',
    }),
    expect: missing,
  },
  {
    name: 'request URL: a proof for the URL as called passes although the app rewrote it',
    rewritePrefix: REWRITE_PREFIX,
    options: () => dpopAllowed(),
    request: async ({ app }) =>
      dpopRequest(app.origin, await boundToken(), {
        htu: `${app.origin}${REWRITE_PREFIX}${ROUTES.open}`,
      }),
    expect: ok(),
  },
  {
    name: 'request URL: a proof for the rewritten URL is refused',
    rewritePrefix: REWRITE_PREFIX,
    options: () => dpopAllowed(),
    request: async ({ app }) => dpopRequest(app.origin, await boundToken()),
    expect: proofRejected('"htu" does not match the request URL'),
  },
  {
    name: 'request URL: the log names the path as called, not the rewritten one',
    rewritePrefix: REWRITE_PREFIX,
    request: async () => ({}),
    expect: missing,
  },
];
