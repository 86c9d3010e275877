// Receiver B on NestJS (platform-express): accepts only nested tokens (signed by the issuer,
// encrypted to B's key). Plain JavaScript, so the decorators are applied as functions
// (`Reflect.decorate`); in TypeScript they are the usual `@Get()`, `@Scopes(…)`, `@Auth()`.
import 'reflect-metadata';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Body, Controller, Get, Module, Post } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import { Auth, Scopes, TokengateGuard, TokengateModule } from '@tokengate/nestjs';

/** B's own decryption key pair: the private JWK given, or a new P-256 key. */
function keyPair(privateJwk) {
  const key = privateJwk || {
    ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }),
    kid: 'nest-enc-1',
  };
  const meta = { kid: key.kid, use: 'enc', alg: key.alg ?? 'ECDH-ES+A256KW' };
  const pub = createPublicKey({ key, format: 'jwk' }).export({ format: 'jwk' });
  return { decryption: { keys: [{ ...key, ...meta }] }, publicJwk: { ...pub, ...meta } };
}

class Orders {
  orders = [{ id: 1, item: 'coffee' }];
  list(auth) {
    const { payload, header, encryption } = auth; // what was verified, and how it arrived
    return { orders: this.orders, auth: { ...payload, header, encryption } };
  }
  create(auth, body) {
    const order = { id: this.orders.length + 1, item: String(body?.item), by: auth.payload.sub };
    this.orders.push(order);
    return order; // Nest answers a POST with 201
  }
}
const route = (name, decorators) =>
  Reflect.decorate(
    decorators,
    Orders.prototype,
    name,
    Object.getOwnPropertyDescriptor(Orders.prototype, name),
  );
route('list', [Get(), Scopes('orders:read')]);
route('create', [Post(), Scopes('orders:write')]);
Auth()(Orders.prototype, 'list', 0);
Auth()(Orders.prototype, 'create', 0);
Body()(Orders.prototype, 'create', 1);
Reflect.decorate([Controller('orders')], Orders);

/**
 * Starts B on `port` (default 0). `options` go to TokengateModule.forRoot(): `issuer` and
 * `jwksUri` are required; any other tokengate option (`logger`, `now`, `jwks`, …) passes through.
 */
export async function startReceiver({ port = 0, decryptionKey, ...options }) {
  const { decryption, publicJwk } = keyPair(decryptionKey);
  const policy = { audience: 'api://orders', profile: 'at+jwt', requireEncryption: true };
  class App {}
  Reflect.decorate(
    [
      Module({
        imports: [TokengateModule.forRoot({ ...policy, ...options, decryption })],
        controllers: [Orders],
        providers: [{ provide: APP_GUARD, useClass: TokengateGuard }], // every route verified
      }),
    ],
    App,
  );
  const app = await NestFactory.create(App, { logger: ['error', 'warn'] });
  await app.listen(port, '127.0.0.1');
  return { url: await app.getUrl(), publicJwk, close: () => app.close() };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { ISSUER: issuer = 'http://127.0.0.1:4000', PORT = 4004, DECRYPTION_KEY } = process.env;
  const decryptionKey = DECRYPTION_KEY && JSON.parse(readFileSync(DECRYPTION_KEY, 'utf8'));
  const jwksUri = `${issuer}/.well-known/jwks.json`;
  const b = await startReceiver({ port: Number(PORT), issuer, jwksUri, decryptionKey });
  const mint = { aud: 'api://orders', scope: 'orders:read', encryptTo: b.publicJwk };
  console.log(`nest receiver ${b.url} trusts ${issuer}; try:
  TOKEN=$(curl -s -H 'Accept: application/jwt' -X POST ${issuer}/token -d '${JSON.stringify(mint)}')
  curl -H "Authorization: Bearer $TOKEN" ${b.url}/orders`);
}
