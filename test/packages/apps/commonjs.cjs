// The CommonJS app of the packaging test (run.js): require() of the ESM packages, which Node
// supports from 20.19 on. Fastify, so each adapter is also loaded from a second module system
// somewhere (the ESM apps cover all three).
'use strict';
const Fastify = require('fastify');
const {
  claimEquals,
  getAuth,
  requireClaims,
  requireScopes,
  tokengate,
} = require('@tokengate/fastify');

const { TG_ISSUER: issuer, TG_AUDIENCE: audience, TG_JWKS_URI: jwksUri } = process.env;

const app = Fastify();
const user = async (request) => ({ user: getAuth(request).payload.sub });
app
  .register(tokengate, { issuer, audience, jwksUri })
  .after(() => {
    app.get('/orders', { preHandler: requireScopes('orders:read') }, user);
    app.get('/admin', { preHandler: requireClaims(claimEquals('role', 'admin')) }, user);
  })
  .listen({ port: 0, host: '127.0.0.1' })
  .then(() => console.log(JSON.stringify({ port: app.server.address().port })));
