// Receiver B on Koa: accepts only nested tokens (signed by the issuer, encrypted to B's key).
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { json } from 'node:stream/consumers';
import Router from '@koa/router';
import Koa from 'koa';
import { requireScopes, tokengate } from '@tokengate/koa';

/** B's own decryption key pair: the private JWK given, or a new P-256 key. */
function keyPair(privateJwk) {
  const key = privateJwk || {
    ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }),
    kid: 'koa-enc-1',
  };
  const meta = { kid: key.kid, use: 'enc', alg: key.alg ?? 'ECDH-ES+A256KW' };
  const pub = createPublicKey({ key, format: 'jwk' }).export({ format: 'jwk' });
  return { decryption: { keys: [{ ...key, ...meta }] }, publicJwk: { ...pub, ...meta } };
}

/**
 * Starts B on `port` (default 0). `options` go to tokengate(): `issuer` and `jwksUri` are
 * required; any other tokengate() option (`logger`, `now`, `jwks`, …) passes through.
 */
export async function startReceiver({ port = 0, decryptionKey, ...options }) {
  const { decryption, publicJwk } = keyPair(decryptionKey);
  const policy = { audience: 'api://orders', profile: 'at+jwt', requireEncryption: true };
  const orders = [{ id: 1, item: 'coffee' }];
  const router = new Router()
    .get('/orders', requireScopes('orders:read'), (ctx) => {
      const { payload, header, encryption } = ctx.state.auth; // what was verified, and how
      ctx.body = { orders, auth: { ...payload, header, encryption } };
    })
    .post('/orders', requireScopes('orders:write'), async (ctx) => {
      const body = await json(ctx.req).catch(() => ({})); // a real app: @koa/bodyparser
      const by = ctx.state.auth.payload.sub;
      orders.push({ id: orders.length + 1, item: String(body?.item), by });
      ctx.status = 201;
      ctx.body = orders.at(-1);
    });
  const app = new Koa().use(tokengate({ ...policy, ...options, decryption }));
  app.use(router.routes());
  const server = app.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const close = () => new Promise((resolve) => server.close(resolve).closeAllConnections());
  return { url: `http://127.0.0.1:${server.address().port}`, publicJwk, close };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { ISSUER: issuer = 'http://127.0.0.1:4000', PORT = 4002, DECRYPTION_KEY } = process.env;
  const decryptionKey = DECRYPTION_KEY && JSON.parse(readFileSync(DECRYPTION_KEY, 'utf8'));
  const jwksUri = `${issuer}/.well-known/jwks.json`;
  const b = await startReceiver({ port: Number(PORT), issuer, jwksUri, decryptionKey });
  const mint = { aud: 'api://orders', scope: 'orders:read', encryptTo: b.publicJwk };
  console.log(`koa receiver ${b.url} trusts ${issuer}; try:
  TOKEN=$(curl -s -H 'Accept: application/jwt' -X POST ${issuer}/token -d '${JSON.stringify(mint)}')
  curl -H "Authorization: Bearer $TOKEN" ${b.url}/orders`);
}
