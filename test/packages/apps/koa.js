// The Koa app of the packaging test (run.js): installed from the tarballs, importing only from
// @tokengate/koa (its re-exports of core included).
import Router from '@koa/router';
import Koa from 'koa';
import { claimEquals, getAuth, requireClaims, requireScopes, tokengate } from '@tokengate/koa';

const { TG_ISSUER: issuer, TG_AUDIENCE: audience, TG_JWKS_URI: jwksUri } = process.env;

const router = new Router()
  .get('/orders', requireScopes('orders:read'), (ctx) => {
    ctx.body = { user: getAuth(ctx).payload.sub };
  })
  .get('/admin', requireClaims(claimEquals('role', 'admin')), (ctx) => {
    ctx.body = { user: getAuth(ctx).payload.sub };
  });
const server = new Koa()
  .use(tokengate({ issuer, audience, jwksUri }))
  .use(router.routes())
  .listen(0, '127.0.0.1', () => {
    console.log(JSON.stringify({ port: server.address().port }));
  });
