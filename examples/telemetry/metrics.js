// tokengate telemetry → Prometheus counters, without a metrics library: subscribe to the
// 'tokengate' diagnostics channel (every verifier in the process) or pass `onEvent` to one.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';

const HELP = {
  tokengate_tokens_verified_total: 'Tokens verified (signature and claims checked).',
  tokengate_tokens_rejected_total: 'Tokens rejected, by error code.',
  tokengate_cache_hits_total: 'Requests answered from the verified-token cache.',
  tokengate_jwks_fetches_total: 'Key-server requests, by outcome (200, 304, error).',
  tokengate_jwks_fetch_seconds_sum: 'Time spent fetching key sets.',
  tokengate_jwks_stale_served_total: 'Episodes of stale keys served because the key server failed.',
  tokengate_jwks_recovered_total: 'Key-server recoveries that ended a stale episode.',
  tokengate_kid_misses_total: 'Tokens naming a key the set lacks.',
  tokengate_cooldown_hits_total: 'Unknown kids refused without a fetch (cooldown).',
};

/**
 * Counts tokengate events. `onEvent` can be given to `createVerifier` / `tokengate()`;
 * `listen()` subscribes to every tokengate instance in the process instead. `render()` returns
 * the Prometheus text exposition format for a `/metrics` route.
 */
export function prometheusMetrics() {
  const counters = new Map();
  const add = (name, labels, value = 1) => {
    const key = labels ? `${name}{${labels}}` : name;
    counters.set(key, (counters.get(key) ?? 0) + value);
  };

  /** @param {import('@tokengate/core').TokengateEvent} event */
  function onEvent(event) {
    switch (event.type) {
      case 'token.verified':
        return add('tokengate_tokens_verified_total', `nested="${event.nested}"`);
      case 'token.rejected':
        return add('tokengate_tokens_rejected_total', `code="${event.code}"`);
      case 'cache.hit':
        return add('tokengate_cache_hits_total');
      case 'jwks.fetch':
        add('tokengate_jwks_fetches_total', `status="${event.status}"`);
        return add('tokengate_jwks_fetch_seconds_sum', undefined, event.durationMs / 1000);
      case 'jwks.stale_served':
        return add('tokengate_jwks_stale_served_total');
      case 'jwks.recovered':
        return add('tokengate_jwks_recovered_total');
      case 'kid.miss':
        return add('tokengate_kid_misses_total');
      case 'cooldown.hit':
        return add('tokengate_cooldown_hits_total');
    }
  }

  return {
    onEvent,
    listen() {
      subscribe('tokengate', onEvent);
      return () => unsubscribe('tokengate', onEvent);
    },
    render() {
      const lines = [];
      for (const [name, help] of Object.entries(HELP)) {
        const samples = [...counters].filter(([key]) => key.split('{')[0] === name);
        if (samples.length === 0) continue;
        lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`);
        for (const [key, value] of samples) lines.push(`${key} ${value}`);
      }
      return `${lines.join('\n')}\n`;
    },
  };
}
