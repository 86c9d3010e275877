// Attack class: the HTTP request and the log line. No header value, token text or setting turns
// a 401 into a 5xx; two Authorization headers are a 400; a rejection record is one clean line
// that names no token; error bodies carry no key material or stack. Every adapter.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { startJwksServer } from '../fixtures/jwks-server.js';
import { issuerJwks, signing } from '../fixtures/keys.js';
import { ISSUER, claims } from '../fixtures/tokens.js';
import { craftJws, esHeader } from './craft.js';
import {
  PATH,
  drivers,
  expectNoLeak,
  expectRefused,
  send,
  gateFixture,
  sendBytes,
  startGate,
} from './harness.js';
import type { GateServer, Reply } from './harness.js';

const honest = () => craftJws({ header: esHeader(), payload: claims() as Record<string, unknown> });

/** Every string in a rejection record is printable ASCII (so no line can be split or forged). */
function expectCleanRecords(gate: GateServer): void {
  const records = gate.logger.rejections();
  expect(records.length).toBeGreaterThan(0);
  for (const record of records) {
    for (const value of Object.values(record)) {
      if (typeof value === 'string') expect(value).toMatch(/^[\x20-\x7e]*…?$/);
    }
    // What a naive "key=value" text logger would write: still exactly one line.
    const line = Object.entries(record)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(' ');
    expect(line.split(/\r\n|\r|\n|\u2028|\u2029/)).toHaveLength(1);
  }
}

const notServerError = (reply: { status: number }) => {
  expect(reply.status).toBeGreaterThanOrEqual(400);
  expect(reply.status).toBeLessThan(500);
};

describe.each(drivers)('$name', (driver) => {
  const env = gateFixture(driver);

  describe('Authorization header values', () => {
    const values: [string, string, 400 | 401][] = [
      ['quotes around the token', 'Bearer "abc.def.ghi"', 400],
      ['a backslash in the token', 'Bearer abc\\def.ghi', 400],
      ['latin-1 letters in the token', 'Bearer tökén.x.y', 400],
      ['a comma (two credentials)', 'Bearer a.b.c, Bearer d.e.f', 400],
      ['a tab as separator', 'Bearer\ta.b.c', 400],
      ['"Bearer=" with no space', 'Bearer=a.b.c', 400],
      ['the scheme quoted', '"Bearer" a.b.c', 400],
      ['auth-params after the token', 'Bearer a.b.c realm="x"', 400],
      ['an empty value', '', 400],
      ['the scheme alone', 'bearer', 400],
      ['two spaces before a non-token', 'Bearer  token', 401],
      ['mixed-case scheme, malformed token', 'bEaReR a.b.c', 401],
      ['10,000 characters of token', `Bearer ${'A'.repeat(10_000)}`, 401],
      ['padding only', 'Bearer ====', 400],
    ];
    it.each(values)('%s → %s', async (_what, value, status) => {
      const reply = await env.gate.sendHeaders({ authorization: value });
      expect(reply.status).toBe(status);
      expectRefused(env.gate, reply, status === 400 ? 'request_invalid' : 'token_malformed');
      expectCleanRecords(env.gate);
    });

    it('another scheme is no credentials at all (401 token_missing)', async () => {
      for (const value of [
        'Basic dXNlcjpwYXNz',
        'Negotiate YIIB',
        'Digest username="a", realm="b"',
      ]) {
        expectRefused(
          env.gate,
          await env.gate.sendHeaders({ authorization: value }),
          'token_missing',
        );
      }
    });

    it('any header value Node will send: 400 or 401, never 5xx (fast-check, 60 runs)', async () => {
      const chars = [
        ' ',
        '\t',
        '"',
        '\\',
        ',',
        '=',
        '.',
        '-',
        '_',
        '~',
        '+',
        '/',
        'A',
        'b',
        '0',
        'é',
        'ÿ',
        ';',
      ];
      const value = fc.oneof(
        fc.string({ unit: fc.constantFrom(...chars), maxLength: 40 }),
        fc.string({ unit: fc.constantFrom(...chars), maxLength: 40 }).map((s) => `Bearer ${s}`),
      );
      await fc.assert(
        fc.asyncProperty(value, async (v) => {
          const reply = await env.gate.sendHeaders({ authorization: v });
          expect([400, 401]).toContain(reply.status);
          expectNoLeak(env.gate, reply);
        }),
        { numRuns: 60, seed: 7 },
      );
    });
  });

  describe('bytes Node’s client refuses to send (raw socket)', () => {
    const host = () => new URL(env.gate.app.origin).host;
    const raw = (authorization: Buffer | string) =>
      Buffer.concat([
        Buffer.from(
          `GET ${PATH} HTTP/1.1\r\nHost: ${host()}\r\nConnection: close\r\nAuthorization: `,
        ),
        Buffer.from(authorization),
        Buffer.from('\r\n\r\n'),
      ]);
    const cases: [string, () => Buffer | string][] = [
      [
        'a bare CR inside the value',
        () => `Bearer ${honest().slice(0, 20)}\r${honest().slice(20)}`,
      ],
      [
        'a bare LF inside the value',
        () => `Bearer ${honest().slice(0, 20)}\n${honest().slice(20)}`,
      ],
      [
        'a NUL inside the value',
        () => `Bearer ${honest().slice(0, 20)}\u0000${honest().slice(20)}`,
      ],
      ['a header injected after CRLF', () => `Bearer x.y.z\r\nX-Forged: 1`],
      ['an obsolete line folding', () => `Bearer\r\n ${honest()}`],
      ['UTF-8 bytes in the value', () => Buffer.from('Bearer tøkén.ü.☃', 'utf8')],
      [
        'DEL and C1 control bytes',
        () => Buffer.from([0x42, 0x65, 0x61, 0x72, 0x65, 0x72, 0x20, 0x7f, 0x85, 0x9b]),
      ],
    ];
    it.each(cases)('%s: answered 4xx, the app still serves', async (_what, value) => {
      env.gate.logger.entries.length = 0;
      const reply = await sendBytes(env.gate.app.origin, raw(value()));
      notServerError(reply);
      for (const r of env.gate.logger.rejections())
        expect(JSON.stringify(r)).toMatch(/^[\x20-\x7e]*$/);
      const after = await env.gate.sendHeaders({});
      expectRefused(env.gate, after, 'token_missing');
    });

    it('a header block over 16 KiB is 431 from Node, never reaching the app', async () => {
      const reply = await env.gate.sendHeaders({ authorization: `Bearer ${'A'.repeat(17 << 10)}` });
      expect(reply.status).toBe(431);
      expect(env.gate.handled).toEqual([]);
    });
  });

  describe('token text with characters no header can carry (query parameter)', () => {
    let queryGate: GateServer;
    beforeAll(async () => {
      queryGate = await startGate(driver, { jwks: env.jwks, carrier: 'query' });
    });
    afterAll(() => queryGate?.close());
    const tokens: [string, () => string][] = [
      ['CR LF inside', () => honest().replace('.', '\r\n.')],
      ['a NUL', () => `${honest()}\u0000`],
      ['quotes and a backslash', () => `"${honest()}\\"`],
      ['Unicode letters and an RLO override', () => `ţøķéñ\u202e.${honest()}`],
      ['a replacement character (what invalid UTF-8 decodes to)', () => `${honest()}\ufffd`],
      ['an emoji', () => honest().replace('.', '.🔑')],
    ];
    it.each(tokens)('%s: 401 token_malformed, one clean record', async (_what, make) => {
      const reply = await queryGate.send(make(), 'query');
      expectRefused(queryGate, reply, 'token_malformed');
      expectCleanRecords(queryGate);
    });
  });

  describe('log records', () => {
    const injections: [string, Record<string, unknown>, Record<string, unknown>][] = [
      ['a kid with a forged JSON line', { kid: 'x\n{"level":50,"msg":"token accepted"}' }, {}],
      ['an iss with CRLF and a forged field', {}, { iss: `${ISSUER}\r\nevent=token_accepted` }],
      ['an alg with a line separator', { alg: 'ES256\u2028forged' }, {}],
      ['a kid of ANSI escape codes', { kid: '\u001b[2J\u001b[31mALERT' }, {}],
    ];
    it.each(injections)('%s cannot split or forge a line', async (_what, header, extra) => {
      const token = craftJws({
        header: esHeader(header),
        payload: { ...claims(), ...extra },
        key: signing.es256,
        alg: 'ES256',
      });
      const reply = await env.gate.send(token);
      expect(reply.status).toBe(401);
      expectCleanRecords(env.gate);
      expectNoLeak(env.gate, reply);
    });

    it('a record names no claim beyond iss, and never the payload or signature', async () => {
      const token = craftJws({
        header: esHeader({ kid: 'no-such-kid' }),
        payload: { ...claims(), email: 'secret.person@example.com', role: 'admin' },
      });
      const reply = await env.gate.send(token);
      expectRefused(env.gate, reply, 'kid_unknown');
      const logged = JSON.stringify(env.gate.logger.entries);
      expect(logged).not.toContain('secret.person');
      expect(logged).not.toContain(token.split('.')[1]!.slice(0, 40));
      const { requestId: _id, ...fields } = env.gate.logger.rejections()[0]!;
      expect(Object.keys(fields).sort()).toEqual(
        ['alg', 'code', 'event', 'iss', 'kid', 'method', 'path', 'reason', 'status'].sort(),
      );
    });

    it('a token in the query string never reaches the record (the path is logged alone)', async () => {
      const token = honest().replace(/.$/, '_');
      const reply = await env.gate.sendHeaders(
        { authorization: 'Bearer' },
        `${PATH}?access_token=${token}`,
      );
      expectRefused(env.gate, reply, 'request_invalid');
      expect(JSON.stringify(env.gate.logger.entries)).not.toContain(token.slice(0, 30));
      expect(env.gate.logger.rejections()[0]!.path).toBe(PATH);
    });

    it('a hostile request id is logged as printable ASCII, capped', async () => {
      const reply = await send(env.gate.app.origin, PATH, {
        'x-request-id': `id\u00ff\u00e9${'z'.repeat(400)}`,
      });
      expect(reply.status).toBe(401);
      const id = env.gate.logger.rejections().at(-1)!.requestId as string | undefined;
      if (id !== undefined) expect(id).toMatch(/^[\x20-\x7e]{1,128}…?$/);
    });
  });

  describe('two Authorization headers (sent raw, Host explicit)', () => {
    const pairs: [string, () => string[]][] = [
      [
        'the same bearer token twice',
        () => ['Authorization', `Bearer ${honest()}`, 'Authorization', `Bearer ${honest()}`],
      ],
      [
        'a bearer token and Basic',
        () => ['Authorization', `Bearer ${honest()}`, 'Authorization', 'Basic dXNlcjpwYXNz'],
      ],
      [
        'Basic first, then a bearer token',
        () => ['Authorization', 'Basic dXNlcjpwYXNz', 'Authorization', `Bearer ${honest()}`],
      ],
      [
        'an empty one, then a bearer token',
        () => ['Authorization', '', 'authorization', `Bearer ${honest()}`],
      ],
      [
        'different header-name case',
        () => ['authorization', `Bearer ${honest()}`, 'AUTHORIZATION', `Bearer ${honest()}`],
      ],
    ];
    it.each(pairs)('%s → 400 invalid_request', async (_what, headers) => {
      const reply = await env.gate.sendHeaders(headers());
      expectRefused(env.gate, reply, 'request_invalid');
    });
  });

  describe('error bodies', () => {
    it('400, 401 and 403 bodies are the fixed pair of fields, nothing else', async () => {
      const answers: Reply[] = [
        await env.gate.sendHeaders({ authorization: 'Bearer' }),
        await env.gate.sendHeaders({}),
        await env.gate.send(craftJws({ header: esHeader(), payload: claims() }).slice(0, -2)),
        await env.gate.sendHeaders({ authorization: `Bearer ${honest()}` }, '/orders/write'),
      ];
      for (const reply of answers) {
        expect(Object.keys(reply.body as object).sort()).toEqual(['error', 'error_description']);
        expect(reply.headers['content-type']).toMatch(/^application\/json/);
        expectNoLeak(env.gate, reply);
      }
    });
  });
});

describe.each(drivers)('$name: hostile settings still answer 401', (driver) => {
  it('a realm with quotes, backslash, CR LF and non-ASCII is sanitised in the challenge', async () => {
    const jwks = await startJwksServer(issuerJwks);
    const realm = 'api "orders"\\\r\n\u00e9\u2028x';
    const gate = await startGate(driver, { jwks, options: { realm } });
    try {
      const missing = await gate.sendHeaders({});
      expectRefused(gate, missing, 'token_missing', { realm });
      expect(missing.headers['www-authenticate']).toBe('Bearer realm="api ordersx"');
      const bad = await gate.send('a.b.c');
      expectRefused(gate, bad, 'token_malformed', { realm });
      expect(bad.headers['www-authenticate']).toMatch(/^Bearer realm="api ordersx", error=/);
    } finally {
      await gate.close();
      await jwks.close();
    }
  });

  it('a logger that throws does not turn a 401 into a 5xx or a hung request', async () => {
    const jwks = await startJwksServer(issuerJwks);
    const failing = {
      warn: () => {
        throw new Error('log transport full');
      },
      error: () => {
        throw new Error('log transport full');
      },
    };
    const gate = await startGate(driver, { jwks, options: { logger: failing } });
    try {
      const reply = await gate.sendHeaders({ authorization: 'Bearer a.b.c' });
      expect(reply.status).toBe(401);
      jwks.setJwks({ keys: [...issuerJwks.keys, { kty: 'RSA', kid: 'broken' }] });
      // The key server's warning about the broken key goes to the same failing logger.
      const fresh = await startGate(driver, { jwks, options: { logger: failing } });
      try {
        expect((await fresh.send(honest())).status).toBe(200);
        jwks.down();
        const cold = await startGate(driver, { jwks, options: { logger: failing } });
        try {
          expect((await cold.send(honest())).status).toBe(503);
        } finally {
          await cold.close();
        }
      } finally {
        await fresh.close();
      }
    } finally {
      await gate.close();
      await jwks.close();
    }
  });
});
