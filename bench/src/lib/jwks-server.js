import { createHash } from 'node:crypto';
import { createServer } from 'node:http';

/**
 * A loopback issuer: serves the JWKS at `/jwks.json` and `/.well-known/jwks.json` (get-jwks'
 * fixed path), with an ETag and Cache-Control, and counts the requests it answers (and, of
 * those, the full downloads: 200s rather than 304s).
 */
export async function startJwksServer(initialKeys, { maxAge = 600 } = {}) {
  let body = '';
  let etag = '';
  const setKeys = (keys) => {
    body = JSON.stringify({ keys });
    etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"`;
  };
  setKeys(initialKeys);
  let requests = 0;
  let downloads = 0;
  const server = createServer((req, res) => {
    const path = req.url.split('?')[0];
    if (path !== '/jwks.json' && path !== '/.well-known/jwks.json') {
      res.writeHead(404).end();
      return;
    }
    requests++;
    const headers = { 'cache-control': `max-age=${maxAge}`, etag };
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, headers).end();
      return;
    }
    downloads++;
    res.writeHead(200, { ...headers, 'content-type': 'application/json' }).end(body);
  });
  // Peers keep connections alive; close() must not wait for them.
  server.keepAliveTimeout = 1000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${server.address().port}`;
  return {
    issuer: `${origin}/`,
    jwksUri: `${origin}/jwks.json`,
    get requests() {
      return requests;
    },
    get downloads() {
      return downloads;
    },
    resetCount: () => {
      requests = 0;
      downloads = 0;
    },
    setKeys,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
