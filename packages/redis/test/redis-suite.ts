// What every Redis test file needs: a real redis-server of its own (127.0.0.1, a free port), an
// admin client on it, and a list of what the tests opened, closed after all of them (last first).
import { afterAll, beforeAll } from 'vitest';
import { createClient } from 'redis';
import { startRedisServer } from '@tokengate/test-fixtures/redis-server';
import type { RedisServer } from '@tokengate/test-fixtures/redis-server';

export interface RedisSuite {
  /** Set in `beforeAll`. */
  server: RedisServer;
  admin: ReturnType<typeof createClient>;
  /** Closed in `afterAll`, last first; every one is closed even when one fails. */
  opened: { close(): Promise<unknown> }[];
}

/** Registers the file's `beforeAll` / `afterAll` and returns what they set up. */
export function redisSuite(): RedisSuite {
  const suite = { opened: [] } as unknown as RedisSuite;
  beforeAll(async () => {
    suite.server = await startRedisServer();
    suite.admin = createClient({ url: suite.server.url });
    suite.admin.on('error', () => {}); // a test may restart or kill the server
    await suite.admin.connect();
  });
  afterAll(async () => {
    const failures: unknown[] = [];
    for (const o of suite.opened.reverse()) await o.close().catch((err) => failures.push(err));
    if (suite.admin?.isOpen) suite.admin.destroy();
    await suite.server?.close();
    if (failures.length > 0) throw failures[0];
  });
  return suite;
}
