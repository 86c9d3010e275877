// Names the README's TypeScript snippets use without defining them (a script, not a module: a
// snippet's own declaration of the same name shadows these).
declare const issuer: string;
declare const audience: string;
declare const jwksUri: string;
declare const token: string;
interface SnippetPrivateJwk {
  kty: string;
  crv: string;
  x: string;
  y: string;
  d: string;
  kid: string;
  alg: string;
}
declare const privateJwk: SnippetPrivateJwk;
declare const previousPrivateJwk: SnippetPrivateJwk;
declare const request: Request; // a WHATWG Request, as in a fetch handler
