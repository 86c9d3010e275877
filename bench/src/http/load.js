// The load generator, in its own process so it never competes with a target's event loop.
import autocannon from 'autocannon';

function once(options) {
  return new Promise((resolve, reject) => {
    autocannon(options, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

/**
 * One bounded run. With `tokens`, every request carries the next token of the pool (a fresh
 * token per request, as autocannon cycles through it); otherwise every request reuses `token`.
 */
async function run({ url, token, tokens, duration, connections }) {
  const options = {
    url,
    connections,
    duration,
    headers: { authorization: `Bearer ${token}` },
  };
  if (tokens) {
    let next = 0;
    options.requests = [
      {
        setupRequest: (request) => {
          request.headers = { ...request.headers, authorization: `Bearer ${tokens[next]}` };
          next = (next + 1) % tokens.length;
          return request;
        },
      },
    ];
  }
  const result = await once(options);
  return {
    // From the totals: autocannon's per-second samples miss a sub-second run's last part.
    requestsPerSecond: result.requests.total / result.duration,
    total: result.requests.total,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

process.on('message', async (message) => {
  if (message.type === 'stop') process.exit(0);
  try {
    process.send({ type: 'done', id: message.id, result: await run(message.job) });
  } catch (err) {
    process.send({ type: 'done', id: message.id, error: err?.stack ?? String(err) });
  }
});
