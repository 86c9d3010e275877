// The shared fixture server itself: other suites rely on these defaults.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DISCOVERY_PATH, JWKS_PATH, startJwksServer } from '@tokengate/test-fixtures/jwks-server';
import type { JwksServer } from '@tokengate/test-fixtures/jwks-server';

describe('jwks fixture server', () => {
  let server: JwksServer;
  beforeAll(async () => {
    server = await startJwksServer({ keys: [{ kid: 'a' }] });
  });
  afterAll(() => server.close());

  it('serves the set with a strong ETag and max-age, and 304 for If-None-Match', async () => {
    const first = await fetch(server.url);
    expect(first.status).toBe(200);
    expect(first.headers.get('etag')).toMatch(/^"/);
    expect(first.headers.get('cache-control')).toBe('public, max-age=300');
    expect(await first.json()).toEqual({ keys: [{ kid: 'a' }] });
    const again = await fetch(server.url, { headers: { 'if-none-match': server.etag! } });
    expect(again.status).toBe(304);
    expect(server.requestsTo(JWKS_PATH)[1]!.headers['if-none-match']).toBe(server.etag);
    const before = server.etag;
    server.setJwks({ keys: [] });
    expect(server.etag).not.toBe(before);
    expect((await fetch(server.url, { headers: { 'if-none-match': before! } })).status).toBe(200);
    expect(server.count(JWKS_PATH)).toBe(3);
  });

  it('serves discovery metadata naming origin + "/" and the JWKS', async () => {
    const doc = await (await fetch(server.origin + DISCOVERY_PATH)).json();
    expect(doc).toEqual({ issuer: `${server.origin}/`, jwks_uri: server.url });
  });

  it('scripts huge, trickling, redirecting and failing answers', async () => {
    server.setHandler(() => ({ huge: 100_000 }));
    expect((await (await fetch(server.url)).text()).length).toBe(100_000);
    server.setHandler(() => ({ trickle: { intervalMs: 5 } }));
    const read = fetch(server.url, { signal: AbortSignal.timeout(100) }).then((r) => r.text());
    await expect(read).rejects.toThrow();
    server.setHandler(() => ({ redirect: '/elsewhere' }));
    const moved = await fetch(server.url, { redirect: 'manual' });
    expect([moved.status, moved.headers.get('location')]).toEqual([302, '/elsewhere']);
    server.setHandler(undefined);
    server.down();
    expect((await fetch(server.url)).status).toBe(500);
    server.down('destroy');
    await expect(fetch(server.url)).rejects.toThrow();
    server.up();
    expect((await fetch(server.url)).status).toBe(200);
  });
});
