// Receiver B on Express: accepts only nested tokens (signed by the issuer, encrypted to B's key).
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import express from 'express';
import { requireScopes, tokengate } from '@tokengate/express';

/** B's own decryption key pair: the private JWK given, or a new P-256 key. */
function keyPair(privateJwk) {
  const key = privateJwk || {
    ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }),
    kid: 'express-enc-1',
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
  const app = express();
  app.use(tokengate({ ...policy, ...options, decryption }));
  app.get('/orders', requireScopes('orders:read'), (req, res) => {
    const { payload, header, encryption } = req.auth; // what was verified, and how it arrived
    res.json({ orders, auth: { ...payload, header, encryption } });
  });
  app.post('/orders', requireScopes('orders:write'), express.json(), (req, res) => {
    const order = { id: orders.length + 1, item: String(req.body?.item), by: req.auth.payload.sub };
    orders.push(order);
    res.status(201).json(order);
  });
  const server = app.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const close = () => new Promise((resolve) => server.close(resolve).closeAllConnections());
  return { url: `http://127.0.0.1:${server.address().port}`, publicJwk, close };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { ISSUER: issuer = 'http://127.0.0.1:4000', PORT = 4001, DECRYPTION_KEY } = process.env;
  const decryptionKey = DECRYPTION_KEY && JSON.parse(readFileSync(DECRYPTION_KEY, 'utf8'));
  const jwksUri = `${issuer}/.well-known/jwks.json`;
  const b = await startReceiver({ port: Number(PORT), issuer, jwksUri, decryptionKey });
  const mint = { aud: 'api://orders', scope: 'orders:read', encryptTo: b.publicJwk };
  console.log(`express receiver ${b.url} trusts ${issuer}; try:
  TOKEN=$(curl -s -H 'Accept: application/jwt' -X POST ${issuer}/token -d '${JSON.stringify(mint)}')
  curl -H "Authorization: Bearer $TOKEN" ${b.url}/orders`);
}
