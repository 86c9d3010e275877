import { describe, expect, it } from 'vitest';
import { VerificationError, extractBearer, toHttpError } from '../src/index.js';
import type { VerificationErrorCode } from '../src/index.js';
import { listen } from '@tokengate/test-fixtures/http';

describe('extractBearer', () => {
  const ok: { name: string; authorization: string | undefined; token: string | undefined }[] = [
    { name: 'no header', authorization: undefined, token: undefined },
    { name: 'Bearer scheme', authorization: 'Bearer abc.def.ghi', token: 'abc.def.ghi' },
    { name: 'scheme in lower case', authorization: 'bearer abc.def.ghi', token: 'abc.def.ghi' },
    { name: 'several spaces after the scheme', authorization: 'Bearer   abc', token: 'abc' },
    { name: 'another scheme (Basic)', authorization: 'Basic dXNlcjpwYXNz', token: undefined },
    {
      name: 'another scheme with parameters',
      authorization: 'Digest username="a"',
      token: undefined,
    },
  ];
  it.each(ok)('$name', ({ authorization, token }) => {
    expect(extractBearer({ headers: { authorization } })).toBe(token);
  });

  const bad: { name: string; authorization: string }[] = [
    { name: 'Bearer without a token', authorization: 'Bearer' },
    { name: 'Bearer with two tokens', authorization: 'Bearer a b' },
    { name: 'Bearer with characters outside b64token', authorization: 'Bearer a"b' },
    { name: 'garbage', authorization: '!!!' },
  ];
  it.each(bad)('$name is request_invalid (400)', ({ authorization }) => {
    expect(() => extractBearer({ headers: { authorization } })).toThrow(
      expect.objectContaining({ code: 'request_invalid', status: 400 }),
    );
  });

  it('refuses two Authorization headers (Node keeps only the first in headers)', () => {
    const req = {
      headers: { authorization: 'Bearer a' },
      rawHeaders: ['Authorization', 'Bearer a', 'authorization', 'Bearer b'],
    };
    expect(() => extractBearer(req)).toThrow(expect.objectContaining({ code: 'request_invalid' }));
  });
});

describe('extractBearer takes every common request shape (issue 12)', () => {
  const token = 'abc.def.ghi';
  it.each([
    ['a plain headers object', { authorization: `Bearer ${token}` }],
    [
      'a plain headers object, name capitalised (API Gateway)',
      { Authorization: `Bearer ${token}` },
    ],
    ['a plain headers object with a one-element list', { authorization: [`Bearer ${token}`] }],
    ['a WHATWG Headers', new Headers({ Authorization: `Bearer ${token}` })],
    [
      'a WHATWG Request',
      new Request('https://api.test/', { headers: { authorization: `Bearer ${token}` } }),
    ],
    ['a Node-style request', { headers: { authorization: `Bearer ${token}` }, rawHeaders: [] }],
  ])('%s', (_name, input) => {
    expect(extractBearer(input)).toBe(token);
  });

  it.each([
    ['an empty plain object', {}],
    ['a plain object with other headers', { 'content-type': 'application/json' }],
    ['an empty Headers', new Headers()],
    ['null (a Lambda event without headers)', null],
    ['undefined', undefined],
  ])('%s carries no credentials', (_name, input) => {
    expect(extractBearer(input)).toBeUndefined();
  });

  it.each([
    ['two spellings in a plain object', { authorization: 'Bearer a', Authorization: 'Bearer b' }],
    ['a list of two in a plain object', { authorization: ['Bearer a', 'Bearer b'] }],
    [
      'Headers holding two values',
      new Headers([
        ['authorization', 'Bearer a'],
        ['authorization', 'Bearer b'],
      ]),
    ],
  ])('%s is request_invalid', (_name, input) => {
    expect(() => extractBearer(input)).toThrow(
      expect.objectContaining({ code: 'request_invalid' }),
    );
  });

  it('a real node:http request, over loopback', async () => {
    const seen: (string | undefined)[] = [];
    const server = await listen((req, res) => {
      seen.push(extractBearer(req));
      res.end();
    });
    try {
      await (await fetch(server.origin, { headers: { authorization: `Bearer ${token}` } })).text();
      await (await fetch(server.origin)).text();
    } finally {
      await server.close();
    }
    expect(seen).toEqual([token, undefined]);
  });

  it('refuses what is not a request or headers', () => {
    expect(() => extractBearer('Bearer abc' as never)).toThrow(TypeError);
  });
});

describe('toHttpError', () => {
  const cases: { code: VerificationErrorCode; status: number; challenge: string | undefined }[] = [
    { code: 'token_missing', status: 401, challenge: 'Bearer realm="api"' },
    {
      code: 'request_invalid',
      status: 400,
      challenge:
        'Bearer realm="api", error="invalid_request", error_description="malformed authorization request"',
    },
    {
      code: 'token_expired',
      status: 401,
      challenge: 'Bearer realm="api", error="invalid_token", error_description="token has expired"',
    },
    { code: 'jwks_unavailable', status: 503, challenge: undefined },
  ];
  it.each(cases)('$code → $status', ({ code, status, challenge }) => {
    const res = toHttpError(new VerificationError(code), { realm: 'api' });
    expect(res.status).toBe(status);
    expect(res.headers['WWW-Authenticate']).toBe(challenge);
    expect(res.body.error_description).toBe(new VerificationError(code).message);
  });

  it('names the scopes on 403 insufficient_scope', () => {
    const res = toHttpError(
      new VerificationError('scope_insufficient', { scope: ['a:read', 'b'] }),
    );
    expect(res.status).toBe(403);
    expect(res.headers['WWW-Authenticate']).toBe(
      'Bearer error="insufficient_scope", error_description="token lacks the required scope", scope="a:read b"',
    );
    expect(res.body).toEqual({
      error: 'insufficient_scope',
      error_description: 'token lacks the required scope',
    });
  });

  it('drops characters a header cannot carry from the realm', () => {
    const res = toHttpError(new VerificationError('token_missing'), { realm: 'a"b\\c\r\nd' });
    expect(res.headers['WWW-Authenticate']).toBe('Bearer realm="abcd"');
  });

  it('answers 503 with Retry-After and no challenge', () => {
    const res = toHttpError(new VerificationError('jwks_unavailable'));
    expect(res.headers).toEqual({ 'Retry-After': '30' });
    expect(res.body.error).toBe('temporarily_unavailable');
  });
});
