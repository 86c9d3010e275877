// The CommonJS app of the packaging test (run.js): require() of the ESM packages, which Node
// supports from 20.19 on.
'use strict';
const express = require('express');
const {
  claimEquals,
  getAuth,
  requireClaims,
  requireScopes,
  tokengate,
} = require('@tokengate/express');

const { TG_ISSUER: issuer, TG_AUDIENCE: audience, TG_JWKS_URI: jwksUri } = process.env;

const app = express();
app.use(tokengate({ issuer, audience, jwksUri }));
app.get('/orders', requireScopes('orders:read'), (req, res) => {
  res.json({ user: getAuth(req).payload.sub });
});
app.get('/admin', requireClaims(claimEquals('role', 'admin')), (req, res) => {
  res.json({ user: getAuth(req).payload.sub });
});
const server = app.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ port: server.address().port }));
});
