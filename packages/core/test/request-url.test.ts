// The request URL DPoP's `htu` is compared with: Host and target are attacker input (issue 13).
// Through real HTTP on every adapter: test/conformance (the "request URL" rows).
import type { IncomingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { parseAuthority, requestUrl, targetPath } from '../src/http/request-url.js';
import type { CredentialSource } from '../src/index.js';

describe('parseAuthority: host[:port] (RFC 9110 §7.2, RFC 3986 §3.2.2)', () => {
  const accepted: [string, string][] = [
    ['api.test', 'api.test'],
    ['API.Test', 'api.test'],
    ['api.test:8080', 'api.test:8080'],
    ['api.test:80', 'api.test'],
    ['127.0.0.1:3000', '127.0.0.1:3000'],
    ['[::1]', '[::1]'],
    ['[::1]:8443', '[::1]:8443'],
    ['internal_host-1', 'internal_host-1'],
    ['api.test.', 'api.test.'],
  ];
  it.each(accepted)('accepts %j as %j', (value, host) => {
    expect(parseAuthority(value, 'http')).toBe(host);
  });

  const refused: [string, string][] = [
    ['api.example?', 'a query delimiter ends the authority'],
    ['h/orders?', 'a path in the host'],
    ['api.example#', 'a fragment delimiter'],
    ['alice@api.test', 'userinfo'],
    ['api example', 'a space'],
    ['', 'empty'],
    [' api.test', 'a leading space'],
    ['api.test:', 'an empty port'],
    ['api.test:8o', 'a port that is not digits'],
    ['api.test:+80', 'a signed port'],
    ['api.test:123456', 'six digits'],
    ['api.test:65536', 'past 65535'],
    ['::1', 'IPv6 without brackets'],
    ['[::1', 'an open bracket'],
    ['[v1.x]', 'IPvFuture'],
    ['[::1%25eth0]', 'an IPv6 zone'],
    ['[fe80::1::2]', 'an invalid IPv6 literal'],
    ['999.1.1.1', 'a number that is no IPv4 address'],
    ['0x7f.1', 'an IPv4 address in another spelling'],
    ['127.1', 'a short IPv4 address'],
    ['%61pi.test', 'a percent-encoded name (one spelling per host)'],
    ['a%2Fb', 'a percent-encoded slash'],
    ['api\\.test', 'a backslash'],
    ['münchen.test', 'non-ASCII'],
  ];
  it.each(refused)('refuses %j (%s)', (value) => {
    expect(parseAuthority(value, 'http')).toBeUndefined();
  });
});

describe('targetPath: what a log record keeps of the target', () => {
  const cases: [string, string][] = [
    ['/orders', '/orders'],
    ['/orders?access_token=secret', '/orders'],
    ['/orders#frag', '/orders'],
    ['http://alice:secret@api.test/orders?x=1', '/orders'],
    ['https://api.test', '/'],
    ['http://api.test?x=1', '/'],
    ['*', '?'],
    ['api.test:443', '?'],
  ];
  it.each(cases)('%j → %j', (target, path) => expect(targetPath(target)).toBe(path));
});

interface Raw extends CredentialSource {
  headers: IncomingHttpHeaders;
}

const raw = (host: string | undefined, extra: Partial<Raw> = {}): Raw => ({
  headers: host === undefined ? {} : { host },
  ...(host !== undefined && { rawHeaders: ['Host', host] }),
  ...extra,
});

describe('requestUrl', () => {
  const ok: { name: string; raw: Raw; target: string; origin?: string; url: string }[] = [
    {
      name: 'origin-form',
      raw: raw('api.test'),
      target: '/orders?x=1',
      url: 'http://api.test/orders?x=1',
    },
    {
      name: 'TLS socket gives https',
      raw: raw('api.test', { socket: { encrypted: true } }),
      target: '/orders',
      url: 'https://api.test/orders',
    },
    {
      name: 'absolute-form: the target is the URL',
      raw: raw('api.test:8080'),
      target: 'http://API.test:8080/orders',
      url: 'http://api.test:8080/orders',
    },
    {
      name: 'absolute-form without a path',
      raw: raw('api.test'),
      target: 'http://api.test?x=1',
      url: 'http://api.test/?x=1',
    },
    {
      name: 'HTTP/2 :authority alone',
      raw: { headers: { ':authority': 'api.test' } },
      target: '/orders',
      url: 'http://api.test/orders',
    },
    {
      name: 'HTTP/2 :authority and the same Host',
      raw: { headers: { ':authority': 'api.test', host: 'API.test' } },
      target: '/orders',
      url: 'http://api.test/orders',
    },
    {
      name: '`origin` replaces scheme and host, the path comes from the target',
      raw: raw('internal:8080'),
      target: 'http://internal:8080/orders?x=1',
      origin: 'https://public.test',
      url: 'https://public.test/orders?x=1',
    },
  ];
  it.each(ok)('$name', ({ raw: r, target, origin, url }) => {
    expect(requestUrl({}, r, target, { origin })).toBe(url);
  });

  const refused: { name: string; raw: Raw; target?: string; reason: string }[] = [
    { name: 'Host with ?', raw: raw('api.example?'), reason: 'Host is not host[:port]' },
    { name: 'Host with a path', raw: raw('h/orders?'), reason: 'Host is not host[:port]' },
    { name: 'empty Host', raw: raw(''), reason: 'Host is not host[:port]' },
    { name: 'no Host (HTTP/1.0)', raw: raw(undefined), reason: 'request has no Host' },
    {
      name: 'two Host headers',
      raw: { headers: { host: 'a.test' }, rawHeaders: ['Host', 'a.test', 'host', 'b.test'] },
      reason: 'several Host headers',
    },
    {
      name: 'Host and :authority disagree',
      raw: { headers: { ':authority': 'a.test', host: 'b.test' } },
      reason: 'Host does not match :authority',
    },
    {
      name: 'absolute-form naming another host',
      raw: raw('api.test'),
      target: 'http://evil.test/orders',
      reason: 'Host does not match the request target',
    },
    {
      name: 'absolute-form naming another port',
      raw: raw('api.test'),
      target: 'http://api.test:8080/orders',
      reason: 'Host does not match the request target',
    },
    {
      name: 'absolute-form with userinfo',
      raw: raw('api.test'),
      target: 'http://alice:secret@api.test/orders',
      reason: 'request target carries userinfo',
    },
    {
      name: 'absolute-form https on a plain connection',
      raw: raw('api.test'),
      target: 'https://api.test/orders',
      reason: 'request target scheme does not match the connection',
    },
    {
      name: 'absolute-form with a bad authority',
      raw: raw('api.test'),
      target: 'http://api.test:x/orders',
      reason: 'request target authority is not host[:port]',
    },
    {
      name: 'another scheme',
      raw: raw('api.test'),
      target: 'ftp://api.test/orders',
      reason: 'request target is neither a path nor an http(s) URL',
    },
    {
      name: 'asterisk-form',
      raw: raw('api.test'),
      target: '*',
      reason: 'request target is neither a path nor an http(s) URL',
    },
  ];
  it.each(refused)('$name: 400 request_invalid', ({ raw: r, target = '/orders', reason }) => {
    expect(() => requestUrl({}, r, target, {})).toThrow(
      expect.objectContaining({ code: 'request_invalid', status: 400, reason }),
    );
  });

  it('with `url`, the request is checked first, then the caller builds the URL', () => {
    const url = (req: { id: number }) => `https://public.test/${req.id}`;
    expect(requestUrl({ id: 7 }, raw('api.test'), 'https://api.test/x', { url })).toBe(
      'https://public.test/7',
    );
    expect(() => requestUrl({ id: 7 }, raw('api.test?'), '/x', { url })).toThrow(
      expect.objectContaining({ code: 'request_invalid' }),
    );
  });
});
