import { channel } from 'node:diagnostics_channel';

/** One telemetry event. Values are unverified hints where noted; never a token or claims. */
export type TokengateEvent =
  | {
      type: 'token.verified';
      iss: string | undefined;
      alg: string;
      nested: boolean;
      durationMs: number;
    }
  | { type: 'token.rejected'; code: string; durationMs: number }
  | { type: 'cache.hit' }
  | { type: 'jwks.fetch'; uri: string; status: 200 | 304 | 'error'; durationMs: number }
  /** Once per episode: a held set is served past fresh because refreshing it failed. */
  | { type: 'jwks.stale_served'; uri: string; ageSeconds: number }
  /** The episode ends: a fetch succeeded again, `staleSeconds` after it began. */
  | { type: 'jwks.recovered'; uri: string; staleSeconds: number }
  /** Once per outage: the fleet's key store (Redis) failed; each receiver fetches on its own. */
  | { type: 'jwks.store_unavailable'; reason: string }
  /** The outage ends: the store answered again, `downSeconds` after it failed. */
  | { type: 'jwks.store_recovered'; downSeconds: number }
  | { type: 'kid.miss'; uri: string }
  | { type: 'cooldown.hit'; uri: string };

/** Receives every event of a verifier (and of its JWKS caches). Must not throw. */
export type EventSink = (event: TokengateEvent) => void;

/**
 * The `node:diagnostics_channel` every tokengate instance publishes to, for process-wide
 * subscribers (OpenTelemetry, Prometheus exporters): `subscribe('tokengate', fn)`.
 */
export const EVENT_CHANNEL = 'tokengate';
const events = channel(EVENT_CHANNEL);

/**
 * Builds the emit function for a sink. Cheap when nobody listens: the hot path checks one
 * boolean. A throwing sink is contained: telemetry never fails a request.
 */
export interface Emitter {
  /** True when someone listens: callers skip building events otherwise. */
  readonly active: () => boolean;
  emit(event: TokengateEvent): void;
}

export function createEmitter(sink: EventSink | undefined): Emitter {
  if (sink !== undefined && typeof sink !== 'function')
    throw new TypeError('"onEvent" must be a function');
  return {
    active: () => sink !== undefined || events.hasSubscribers,
    emit(event) {
      if (sink) {
        try {
          sink(event);
        } catch {
          // A faulty sink must not turn a verification into a failure.
        }
      }
      if (events.hasSubscribers) events.publish(event);
    },
  };
}
