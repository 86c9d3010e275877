// `pnpm --filter @tokengate/issuer start`: A and K on http://127.0.0.1:4000 (PORT, HOST, ALG,
// KEYS_DIR to change). Keys persist in examples/issuer/.keys (git-ignored) across restarts.
import { fileURLToPath } from 'node:url';
import { startIssuer } from './issuer.js';

const issuer = await startIssuer({
  port: Number(process.env.PORT ?? 4000),
  host: process.env.HOST ?? '127.0.0.1',
  alg: process.env.ALG === 'RS256' ? 'RS256' : 'ES256',
  keysDir: process.env.KEYS_DIR ?? fileURLToPath(new URL('.keys', import.meta.url)),
});

console.log(`issuer ${issuer.url} signing with ${issuer.signingKid}
  curl ${issuer.jwksUri}
  curl -X POST ${issuer.url}/token -d '{"aud":"api://orders","scope":"orders:read"}'
  curl -X POST ${issuer.url}/token -d '{"aud":"api://orders","encryptTo":<receiver public JWK>}'
  curl -X POST ${issuer.url}/rotate    then, once old tokens expired:    curl -X POST ${issuer.url}/retire`);

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => void issuer.close().then(() => process.exit(0)));
}
