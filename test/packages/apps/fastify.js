// The Fastify app of the packaging test (run.js): installed from the tarballs, importing only
// from @tokengate/fastify. No Fastify logger, as in the README: rejections must still be logged.
import Fastify from 'fastify';
import tokengate, { claimEquals, getAuth, requireClaims, requireScopes } from '@tokengate/fastify';

const { TG_ISSUER: issuer, TG_AUDIENCE: audience, TG_JWKS_URI: jwksUri } = process.env;

const app = Fastify();
await app.register(tokengate, { issuer, audience, jwksUri });
app.get('/orders', { preHandler: requireScopes('orders:read') }, async (request) => ({
  user: getAuth(request).payload.sub,
}));
app.get('/admin', { preHandler: requireClaims(claimEquals('role', 'admin')) }, async (request) => ({
  user: getAuth(request).payload.sub,
}));
await app.listen({ port: 0, host: '127.0.0.1' });
console.log(JSON.stringify({ port: app.server.address().port }));
