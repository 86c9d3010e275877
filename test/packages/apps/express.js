// The Express app of the packaging test (run.js): installed from the tarballs, importing only
// from @tokengate/express (its re-exports of core included), as the README tells users to.
import express from 'express';
import {
  claimEquals,
  createVerifier,
  getAuth,
  requireClaims,
  requireScopes,
  tokengate,
} from '@tokengate/express';
import { createRedisJwksStore, createRedisReplayStore } from '@tokengate/redis';

const { TG_ISSUER: issuer, TG_AUDIENCE: audience, TG_JWKS_URI: jwksUri } = process.env;
if (typeof createRedisReplayStore !== 'function' || typeof createRedisJwksStore !== 'function') {
  throw new Error('@tokengate/redis did not load');
}

const app = express();
app.use(tokengate(createVerifier({ issuer, audience, jwksUri })));
app.get('/orders', requireScopes('orders:read'), (req, res) => {
  res.json({ user: getAuth(req).payload.sub });
});
app.get('/admin', requireClaims(claimEquals('role', 'admin')), (req, res) => {
  res.json({ user: getAuth(req).payload.sub });
});
const server = app.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ port: server.address().port }));
});
