// Revalidation against the key servers people actually run, each a real framework on loopback:
// every one must answer tokengate's second fetch (a conditional GET) with 304. The `fresh` module
// behind Express and Koa answers 200 to `Cache-Control: no-cache`, which fetch adds by itself to
// conditional requests unless we send our own Cache-Control (packages/core/src/keys/http/fetch.ts).
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import fastifyEtag from '@fastify/etag';
import koaEtag from '@koa/etag';
import { createRemoteJwks } from '@tokengate/core';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import conditional from 'koa-conditional-get';
import { afterEach, describe, expect, it } from 'vitest';
import { createClock } from '@tokengate/test-fixtures/clock';
import { publicJwks, signing } from '@tokengate/test-fixtures/keys';

const JWKS = publicJwks(signing.es256, signing.rs256);
const ES256 = { kid: signing.es256.kid, alg: 'ES256' };

/** What the server saw and answered, recorded on the raw Node server after the response. */
interface Seen {
  ifNoneMatch: string | undefined;
  ifModifiedSince: string | undefined;
  cacheControl: string | undefined;
  pragma: string | undefined;
  status: number;
}

interface KeyServer {
  url: string;
  seen: Seen[];
  close(): Promise<void>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((c) => c()));
});

/** Observes every exchange on `server` without taking part in it. */
function observe(server: Server, path: string, close: () => Promise<void>): KeyServer {
  const seen: Seen[] = [];
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    res.on('finish', () =>
      seen.push({
        ifNoneMatch: req.headers['if-none-match'],
        ifModifiedSince: req.headers['if-modified-since'],
        cacheControl: req.headers['cache-control'],
        pragma: req.headers.pragma as string | undefined,
        status: res.statusCode,
      }),
    );
  });
  const { port } = server.address() as AddressInfo;
  const keyServer = { url: `http://127.0.0.1:${port}${path}`, seen, close };
  cleanups.push(close);
  return keyServer;
}

async function listenNode(server: Server): Promise<() => Promise<void>> {
  if (!server.listening) await once(server, 'listening');
  return () => new Promise((resolve) => server.close(() => resolve()));
}

/** A temp folder holding jwks.json, removed after the test. */
async function jwksFile(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tokengate-jwks-'));
  await writeFile(join(dir, 'jwks.json'), JSON.stringify(JWKS));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const SERVERS: {
  name: string;
  validator: 'etag' | 'last-modified';
  start(): Promise<KeyServer>;
}[] = [
  {
    name: 'Express res.json (weak ETag)',
    validator: 'etag',
    async start() {
      const app = express();
      app.get('/jwks', (_req, res) => {
        res.json(JWKS);
      });
      const server = app.listen(0, '127.0.0.1');
      return observe(server, '/jwks', await listenNode(server));
    },
  },
  {
    name: 'express.static serving jwks.json',
    validator: 'etag',
    async start() {
      const app = express();
      app.use('/.well-known', express.static(await jwksFile()));
      const server = app.listen(0, '127.0.0.1');
      return observe(server, '/.well-known/jwks.json', await listenNode(server));
    },
  },
  {
    name: 'Koa with koa-conditional-get and @koa/etag',
    validator: 'etag',
    async start() {
      const app = new Koa();
      app.use(conditional());
      app.use(koaEtag());
      app.use((ctx) => {
        ctx.body = JWKS;
      });
      const server = app.listen(0, '127.0.0.1');
      return observe(server, '/jwks', await listenNode(server));
    },
  },
  {
    name: 'Fastify with @fastify/etag',
    validator: 'etag',
    async start() {
      const app = Fastify();
      await app.register(fastifyEtag);
      app.get('/jwks', async () => JWKS);
      await app.listen({ port: 0, host: '127.0.0.1' });
      return observe(app.server, '/jwks', () => app.close());
    },
  },
  {
    name: 'express.static with ETags off (Last-Modified only)',
    validator: 'last-modified',
    async start() {
      const app = express();
      app.use(express.static(await jwksFile(), { etag: false }));
      const server = app.listen(0, '127.0.0.1');
      return observe(server, '/jwks.json', await listenNode(server));
    },
  },
];

describe('revalidation against real key servers', () => {
  it.each(SERVERS)('$name answers our revalidation with 304', async ({ start, validator }) => {
    const server = await start();
    const clock = createClock();
    const jwks = createRemoteJwks(server.url, { now: clock.now, logger: false });
    const key = await jwks.getKey(ES256);
    // Past fresh and past maxStale: the next lookup waits for the revalidation itself.
    clock.advance(200_000);
    expect(await jwks.getKey(ES256)).toBe(key);

    expect(server.seen).toHaveLength(2);
    const [first, second] = server.seen as [Seen, Seen];
    expect(first).toMatchObject({
      ifNoneMatch: undefined,
      ifModifiedSince: undefined,
      status: 200,
    });
    if (validator === 'etag') expect(second.ifNoneMatch).toMatch(/^(W\/)?"/);
    else
      expect([second.ifNoneMatch, second.ifModifiedSince]).toEqual([undefined, expect.any(String)]);
    // Nothing in our request forbids a 304 (RFC 9111 §5.2.1.1: max-age=0 still permits one).
    expect(second.cacheControl).toBe('max-age=0');
    expect(second.pragma).toBeUndefined();
    expect(second.status).toBe(304);
    expect(jwks.status()).toMatchObject({ fetches: 2, notModified: 1 });
  });
});
