// Type-checked (not run) under "module": "nodenext": a CommonJS TypeScript file importing the ESM
// packages, which TypeScript accepts from 5.8 on (TS1479 before).
import type { Request } from 'express';
import { getAuth, tokengate } from '@tokengate/express';

export const gate = tokengate({
  issuer: 'https://issuer.example.com',
  audience: 'api://orders',
  jwksUri: 'https://issuer.example.com/.well-known/jwks.json',
});
export const subjectOf = (req: Request): string | undefined => getAuth(req).payload.sub;
