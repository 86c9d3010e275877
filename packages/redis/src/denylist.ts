// A fleet-wide denylist of revoked `jti`s (RFC 7519 §4.1.7) on Redis. Redis is the coordinator,
// never on the request path: every receiver holds the whole live list in memory (a Map lookup per
// request), Redis pub/sub pushes each new revocation to every receiver, and a receiver that
// (re)connects reloads the list. A receiver that cannot be sure its list is current follows the
// `onUnsure` policy.
import { assertRedisUrl, timeout } from './connection.js';
import { VerificationError, stderrLogger, systemClock, toSeconds } from '@tokengate/core';
import type { Clock, Duration, Logger, TokenPayload } from '@tokengate/core';

/**
 * What the denylist needs of a node-redis client: raw commands, and a second connection of the
 * same settings for the subscription (a subscribed connection runs nothing else).
 */
export interface DenylistClient {
  sendCommand(args: string[]): Promise<unknown>;
  duplicate(overrides?: { pingInterval?: number }): DenylistSubscriber;
}

/** The subscribing connection, as node-redis v5 (or v4) gives it from `duplicate()`. */
export interface DenylistSubscriber {
  connect(): Promise<unknown>;
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  on(event: 'ready' | 'end' | 'reconnecting' | 'ping-interval', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  destroy(): void;
}

/** Options of `createRedisDenylist`: a client you own, or a URL for a client it owns. */
export interface RedisDenylistOptions {
  /**
   * A node-redis client (not a cluster). Commands go through it; the denylist subscribes on its own
   * `duplicate()`, which it connects and closes. You connect the client, handle its errors, close it.
   */
  client?: DenylistClient;
  /** `redis://host:6379` (or `rediss://`): the denylist creates its own two connections. */
  url?: string;
  /** Prefix of the sorted set (`<prefix>jtis`) and the channel (`<prefix>events`). Default `'tokengate:revoked:'`. */
  prefix?: string;
  /**
   * How long a receiver keeps trusting its list while it is disconnected from Redis (it may miss
   * revocations made meanwhile). Past it, or before the first load, `onUnsure` applies.
   * Seconds or a duration string. Default `'5s'`.
   */
  maxUnsure?: Duration;
  /**
   * What a receiver does with a token that has a `jti` when it is unsure its list is current:
   * `'fail-closed'` refuses it with 503 `revocation_unavailable` (Retry-After 30);
   * `'fail-open'` checks it against the list it has and accepts it if absent, logging once per
   * episode (`revocation_unsure`). Default `'fail-open'`: Redis coordinates, it never takes the
   * fleet down; choose `'fail-closed'` when a missed revocation costs more than an outage.
   */
  onUnsure?: 'fail-closed' | 'fail-open';
  /**
   * How long an entry is kept after its token's `exp`, so that a receiver whose `clockTolerance`
   * or clock skew still accepts the token still refuses it. Seconds or a duration string. Default `'5m'`.
   */
  keepAfterExp?: Duration;
  /** How long `revoke()` may take before it rejects, in milliseconds. Default 1000. */
  timeoutMs?: number;
  /** Records `revocation_unsure` (warn) and `revocation_current` (info). Default: JSON on stderr; `false`: none. */
  logger?: Logger | false;
  /** Receives connection and reload errors (node-redis emits them while reconnecting). */
  onError?: (err: Error) => void;
  /** Clock in epoch seconds, for expiry. Default the system clock. */
  now?: Clock;
}

/** The denylist: `revoked` is the `revoked` option of any tokengate adapter or verifier. */
export interface RedisDenylist {
  /**
   * The `revoked` hook: true when the token's `jti` is on the list. Synchronous, a Map lookup.
   * A token without a string `jti` cannot be revoked by `jti`: always false. Throws
   * `revocation_unavailable` when the list may not be current and `onUnsure` is `'fail-closed'`.
   */
  readonly revoked: ((payload: TokenPayload) => boolean) & { readonly version: number };
  /**
   * Revokes `jti` until `exp` (the token's `exp`, epoch seconds) plus `keepAfterExp`, then Redis
   * and every receiver forget it. Resolves once Redis has stored and published it; every
   * connected receiver refuses the token within milliseconds (this one at once).
   */
  revoke(jti: string, exp: number): Promise<void>;
  /**
   * Resolves once the list has been loaded the first time: await it before serving (until then
   * every token with a `jti` meets the `onUnsure` policy). Waits for as long as Redis is
   * unreachable; rejects if `close()` comes first.
   */
  ready(): Promise<void>;
  /** True while the list is known current (connected and loaded, or disconnected under `maxUnsure`). */
  readonly current: boolean;
  /** Revoked `jti`s held in memory. */
  readonly size: number;
  /** Unsubscribes and closes the connections it opened; does nothing to a client you passed in. */
  close(): Promise<void>;
}

const MAX_JTI_LENGTH = 1024;
const RELOAD_RETRY_MS = [100, 250, 500, 1000, 2000] as const;
const SWEEP_MS = 60_000;

// Store, purge what expired and publish in one atomic step: a receiver that loads after this ran
// finds the entry; one subscribed before it ran gets the message. `GT` keeps the later `exp` of a
// jti revoked twice.
const REVOKE_SCRIPT = `
redis.call('ZADD', KEYS[1], 'GT', ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1`;

/** One pushed revocation, `{"jti":"…","exp":…}`; anything else on the channel is ignored. */
function parseMessage(message: string): { jti: string; exp: number } | undefined {
  try {
    const value = JSON.parse(message) as { jti?: unknown; exp?: unknown } | null;
    if (
      typeof value?.jti === 'string' &&
      value.jti.length <= MAX_JTI_LENGTH &&
      typeof value.exp === 'number' &&
      Number.isFinite(value.exp)
    ) {
      return { jti: value.jti, exp: value.exp };
    }
  } catch {
    // Not JSON: not ours.
  }
  return undefined;
}

interface Checked {
  prefix: string;
  maxUnsureMs: number;
  failOpen: boolean;
  keepAfterExp: number;
  timeoutMs: number;
  logger: Logger | undefined;
  onError: (err: Error) => void;
  now: Clock;
}

/** Checks every option; a TypeError at construction for each mistake. */
function checkOptions(options: RedisDenylistOptions): Checked {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('createRedisDenylist needs { client } or { url }');
  }
  const known = new Set([
    'client',
    'url',
    'prefix',
    'maxUnsure',
    'onUnsure',
    'keepAfterExp',
    'timeoutMs',
    'logger',
    'onError',
    'now',
  ]);
  for (const name of Object.keys(options)) {
    if (!known.has(name)) throw new TypeError(`unknown option \`${name}\` of createRedisDenylist`);
  }
  const { prefix = 'tokengate:revoked:', onUnsure = 'fail-open', timeoutMs = 1000 } = options;
  if ((options.client === undefined) === (options.url === undefined)) {
    throw new TypeError('give exactly one of "client" and "url"');
  }
  if (typeof prefix !== 'string') throw new TypeError('"prefix" must be a string');
  if (onUnsure !== 'fail-closed' && onUnsure !== 'fail-open') {
    throw new TypeError(`"onUnsure" must be 'fail-closed' or 'fail-open'`);
  }
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) {
    throw new TypeError('"timeoutMs" must be a positive integer');
  }
  if (options.onError !== undefined && typeof options.onError !== 'function') {
    throw new TypeError('"onError" must be a function');
  }
  if (options.now !== undefined && typeof options.now !== 'function') {
    throw new TypeError('"now" must be a function returning epoch seconds');
  }
  const logger = options.logger ?? stderrLogger;
  if (
    logger !== false &&
    (typeof logger !== 'object' || logger === null || typeof logger.warn !== 'function')
  ) {
    throw new TypeError('"logger" must be a logger (warn(obj, msg), info(obj, msg)) or false');
  }
  return {
    prefix,
    maxUnsureMs: toSeconds(options.maxUnsure ?? 5, 'maxUnsure') * 1000,
    failOpen: onUnsure === 'fail-open',
    keepAfterExp: toSeconds(options.keepAfterExp ?? 300, 'keepAfterExp'),
    timeoutMs,
    logger: logger === false ? undefined : logger,
    onError: options.onError ?? (() => {}),
    now: options.now ?? systemClock,
  };
}

interface OpenClients {
  commands: Promise<DenylistClient>;
  closeOwned(): Promise<void>;
}

/** The command client and the subscriber: yours and its duplicate, or both made from `url`. */
function openClients(options: RedisDenylistOptions, onError: (err: Error) => void): OpenClients {
  const { url, client } = options;
  if (url !== undefined) {
    assertRedisUrl(url);
    // Loaded only here: `redis` is an optional peer, not needed by an app passing its own client.
    const owning = import('redis').then(({ createClient }) => {
      const owned = createClient({ url });
      // Without a listener, node-redis's 'error' event would crash the process.
      owned.on('error', onError);
      owned.connect().catch(onError);
      return owned;
    });
    owning.catch(onError);
    return {
      commands: owning,
      async closeOwned() {
        const owned = await owning.catch(() => undefined);
        if (owned?.isOpen) owned.destroy();
      },
    };
  }
  if (
    typeof client !== 'object' ||
    client === null ||
    typeof client.sendCommand !== 'function' ||
    typeof client.duplicate !== 'function'
  ) {
    throw new TypeError('"client" must be a node-redis client');
  }
  return { commands: Promise.resolve(client), closeOwned: async () => {} };
}

/** The list held in memory: `jti` → `exp` (epoch seconds). `hold` answers whether it changed. */
function createLiveList(o: Checked) {
  const entries = new Map<string, number>();
  const cutoff = () => Math.floor(o.now()) - o.keepAfterExp;
  return {
    entries,
    cutoff,
    /** Holds a revocation until its `exp` plus `keepAfterExp`; the later `exp` wins. */
    hold(jti: string, exp: number): boolean {
      const held = entries.get(jti);
      if (exp < cutoff() || (held !== undefined && exp <= held)) return false;
      entries.set(jti, exp);
      return true;
    },
    sweep: (): void => {
      const before = cutoff();
      for (const [jti, exp] of entries) if (exp < before) entries.delete(jti);
    },
  };
}
type LiveList = ReturnType<typeof createLiveList>;

/**
 * Whether the list is current, and the `revoked` hook that applies the `onUnsure` policy when it
 * may not be. Current while loaded and subscribed; after the subscription drops, trusted for
 * `maxUnsure` more.
 */
function createCurrency(o: Checked, list: LiveList) {
  let current = false;
  let lostAt: number | undefined; // Date.now() when the subscription dropped
  let unsureLogged = false;
  // The hook's `version` (core's RevokedHook): bumped by every change while current, NaN while
  // not, so a cached token's earlier "not revoked" is reused only while nothing changed.
  let version = 0;
  // Bumped whenever the subscription is lost or made again: a reload counts only if no such
  // change happened while it ran (else a push may have fallen between the read and the change).
  let epoch = 0;
  let subscribed = false;
  const trusted = () => current || (lostAt !== undefined && Date.now() - lostAt <= o.maxUnsureMs);

  function unsure(): void {
    if (!o.failOpen) {
      throw new VerificationError('revocation_unavailable', {
        reason: 'the denylist may not be current (redis unreachable for longer than maxUnsure)',
      });
    }
    if (unsureLogged) return;
    unsureLogged = true;
    o.logger?.warn(
      { event: 'revocation_unsure', policy: 'fail-open', sinceMs: lostAt && Date.now() - lostAt },
      'revocation list may not be current: tokens are checked against the list held',
    );
  }

  const revoked = Object.assign(
    (payload: TokenPayload): boolean => {
      const jti = payload.jti;
      // Not revocable by jti: the list has nothing to say about it, current or not.
      if (typeof jti !== 'string') return false;
      if (!current && !trusted()) unsure();
      return list.entries.has(jti);
    },
    { version: NaN },
  );

  return {
    revoked,
    trusted,
    /** The list changed: cached "not revoked" answers must be asked again. */
    changed(): void {
      if (current) revoked.version = ++version;
    },
    /** The subscription, and a number that changes whenever it is lost or made again. */
    subscription: () => ({ subscribed, epoch }),
    subscribed(): void {
      subscribed = true;
      epoch++;
    },
    lost: (): void => {
      if (subscribed) epoch++;
      subscribed = false;
      // Trusted for `maxUnsure` from the moment it stopped being current: never before a load.
      if (current) lostAt = Date.now();
      current = false;
      // Every hit asks again while unsure: the policy depends on how long it has lasted.
      revoked.version = NaN;
    },
    loaded(): void {
      current = true;
      lostAt = undefined;
      revoked.version = ++version;
      if (unsureLogged) {
        unsureLogged = false;
        o.logger?.info?.({ event: 'revocation_current' }, 'revocation list is current again');
      }
    },
  };
}
type Currency = ReturnType<typeof createCurrency>;

/**
 * The members and scores of a `ZRANGEBYSCORE … WITHSCORES` reply: flat (`[m, s, m, s]`) over
 * RESP2, pairs (`[[m, s], …]`) over RESP3. Anything else throws, so the reload is retried and a
 * list is never called current on a reply that was not read.
 */
export function scoredMembers(reply: unknown): [string, number][] {
  if (!Array.isArray(reply)) throw new TypeError('unexpected ZRANGEBYSCORE reply');
  const pairs: [string, number][] = [];
  const flat = reply.length > 0 && !Array.isArray(reply[0]);
  for (let i = 0; i < reply.length; i += flat ? 2 : 1) {
    const pair: unknown[] = flat ? [reply[i], reply[i + 1]] : (reply[i] as unknown[]);
    const [member, score] = pair;
    const exp = Number(score);
    if (typeof member !== 'string' || !Number.isFinite(exp)) {
      throw new TypeError('unexpected ZRANGEBYSCORE reply');
    }
    pairs.push([member, exp]);
  }
  return pairs;
}

/** How often the subscription is pinged: a fifth of `maxUnsure`, between 50 ms and 1 s. */
function pingIntervalOf(o: Checked): number {
  return Math.min(1000, Math.max(50, Math.floor(o.maxUnsureMs / 5)));
}

/**
 * A partition that drops packets without closing the connection (no RST) never ends the socket:
 * the subscription is pinged every `pingMs`, and three pings without an answer count as lost.
 * When answers come back, the list is reloaded before it is trusted again.
 */
function watchPongs(
  sub: DenylistSubscriber,
  pingMs: number,
  currency: Currency,
  on: { onSubscribed: () => void; closed: () => boolean },
): void {
  let lastPong = Date.now();
  let silent = false;
  const heard = () => {
    lastPong = Date.now();
    if (silent) {
      silent = false;
      on.onSubscribed();
    }
  };
  sub.on('ready', heard);
  sub.on('ping-interval', heard);
  const watchdog = setInterval(() => {
    if (on.closed()) clearInterval(watchdog);
    else if (!silent && Date.now() - lastPong > 3 * pingMs) {
      silent = true;
      currency.lost();
    }
  }, pingMs);
  watchdog.unref();
}

/**
 * Subscribes on a duplicate of the command client and calls `onSubscribed` each time the
 * subscription is (re)established: subscribe first, then load, so a revocation made in between
 * is in the load or in a message. Resolves to the subscribing connection.
 */
function subscribe(
  o: Checked,
  clients: OpenClients,
  currency: Currency,
  on: { onMessage: (message: string) => void; onSubscribed: () => void; closed: () => boolean },
): Promise<DenylistSubscriber> {
  const pingMs = pingIntervalOf(o);
  const subscriber = clients.commands.then((c) => c.duplicate({ pingInterval: pingMs }));
  const subscribing = subscriber.then(async (sub) => {
    sub.on('error', (err) => {
      currency.lost();
      o.onError(err);
    });
    sub.on('end', currency.lost);
    sub.on('reconnecting', currency.lost);
    await sub.connect();
    await sub.subscribe(`${o.prefix}events`, on.onMessage);
    watchPongs(sub, pingMs, currency, on);
    // node-redis resubscribes before 'ready' on every reconnect: then the list is reloaded.
    sub.on('ready', on.onSubscribed);
    on.onSubscribed();
  });
  subscribing.catch((err: unknown) => {
    if (!on.closed()) o.onError(err as Error);
  });
  return subscriber;
}

/** What `ready()` returns, settled by the first load or by `close()`. */
function firstLoadPromise() {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {}); // rejected by close() before a first load: nobody need be listening
  return { promise, resolve, reject };
}

/**
 * Loads the whole list (on a connection already subscribed) into `list` through `hold`, and writes
 * back what Redis lost.
 */
async function reloadList(
  command: (args: string[]) => Promise<unknown>,
  key: string,
  list: LiveList,
  hold: (jti: string, exp: number) => void,
): Promise<void> {
  const reply = await command(['ZRANGEBYSCORE', key, String(list.cutoff()), '+inf', 'WITHSCORES']);
  const stored = new Set<string>();
  for (const [jti, exp] of scoredMembers(reply)) {
    stored.add(jti);
    hold(jti, exp);
  }
  // A Redis restarted without persistence comes back empty: what this receiver still holds is
  // written back (NX: never lowers an entry), so receivers started later learn it too.
  const missing = [...list.entries].filter(([jti]) => !stored.has(jti));
  if (missing.length > 0) {
    await command(['ZADD', key, 'NX', ...missing.flatMap(([jti, exp]) => [String(exp), jti])]);
  }
}

/** Redis's side: the sorted set, the channel, and the reload that keeps a receiver current. */
function createSync(o: Checked, clients: OpenClients, list: LiveList, currency: Currency) {
  const key = `${o.prefix}jtis`;
  const channel = `${o.prefix}events`;
  const command = (args: string[]) =>
    timeout(
      clients.commands.then((c) => c.sendCommand(args)),
      o.timeoutMs,
    );
  let closed = false;
  let reloading: Promise<void> | undefined;
  const firstLoad = firstLoadPromise();

  const hold = (jti: string, exp: number) => {
    if (list.hold(jti, exp)) currency.changed();
  };

  /** Reloads until it succeeds (or the denylist is closed); one reload at a time. */
  function resync(): void {
    if (reloading || closed) return;
    reloading = (async () => {
      for (let attempt = 0; !closed; attempt++) {
        try {
          const before = currency.subscription();
          await reloadList(command, key, list, hold);
          if (closed) return;
          const after = currency.subscription();
          // Lost meanwhile: the next subscription reloads. Made again meanwhile: read again.
          if (!after.subscribed) return;
          if (after.epoch !== before.epoch || !before.subscribed) continue;
          currency.loaded();
          firstLoad.resolve();
          return;
        } catch (err) {
          o.onError(err as Error);
          const delay = RELOAD_RETRY_MS[Math.min(attempt, RELOAD_RETRY_MS.length - 1)];
          await new Promise((resolve) => setTimeout(resolve, delay).unref());
        }
      }
    })().finally(() => (reloading = undefined));
  }

  const subscriber = subscribe(o, clients, currency, {
    onMessage: (message) => {
      const revocation = parseMessage(message);
      if (revocation) hold(revocation.jti, revocation.exp);
    },
    onSubscribed: () => {
      currency.subscribed();
      resync();
    },
    closed: () => closed,
  });

  return {
    firstLoad: firstLoad.promise,
    async revoke(jti: string, exp: number): Promise<void> {
      const message = JSON.stringify({ jti, exp });
      const cutoff = String(list.cutoff());
      await command(['EVAL', REVOKE_SCRIPT, '1', key, jti, String(exp), cutoff, channel, message]);
      hold(jti, exp);
    },
    async close(): Promise<void> {
      closed = true;
      firstLoad.reject(new Error('the denylist was closed before its first load'));
      const sub = await subscriber.catch(() => undefined);
      // Not awaiting `subscribing`: a connect() that never succeeded never settles once destroyed.
      sub?.destroy();
      await reloading;
      await clients.closeOwned();
    },
  };
}

/**
 * Creates a fleet-wide denylist on Redis. Pass `denylist.revoked` as the `revoked` option, revoke
 * with `denylist.revoke(jti, exp)` from any process, `await denylist.ready()` before serving.
 *
 * @example
 * const denylist = createRedisDenylist({ url: process.env.REDIS_URL });
 * await denylist.ready();
 * app.use(tokengate({ issuer, audience, jwksUri, revoked: denylist.revoked }));
 * // elsewhere, e.g. on logout: await denylist.revoke(payload.jti, payload.exp);
 * process.on('SIGTERM', () => denylist.close());
 */
export function createRedisDenylist(options: RedisDenylistOptions): RedisDenylist {
  const o = checkOptions(options);
  const clients = openClients(options, o.onError);
  const list = createLiveList(o);
  const currency = createCurrency(o, list);
  const sync = createSync(o, clients, list, currency);
  const sweep = setInterval(list.sweep, SWEEP_MS);
  sweep.unref();
  let closing: Promise<void> | undefined;
  return {
    revoked: currency.revoked,
    async revoke(jti, exp) {
      if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI_LENGTH) {
        throw new TypeError(
          `"jti" must be a non-empty string of at most ${MAX_JTI_LENGTH} characters`,
        );
      }
      if (typeof exp !== 'number' || !Number.isFinite(exp)) {
        throw new TypeError('"exp" must be the token\'s exp, in epoch seconds');
      }
      await sync.revoke(jti, exp);
    },
    ready: () => sync.firstLoad,
    get current() {
      return currency.trusted();
    },
    get size() {
      return list.entries.size;
    },
    /** Closes once: later calls get the same promise. */
    close() {
      clearInterval(sweep);
      closing ??= sync.close();
      return closing;
    },
  };
}
