/** The claims of a verified token. */
export interface TokenPayload {
  iss?: string;
  sub?: string;
  aud?: string | string[];
  exp?: number;
  nbf?: number;
  iat?: number;
  jti?: string;
  /** Space-delimited string, or an array of strings (the scope guards read both). */
  scope?: string | string[];
  scp?: string[];
  client_id?: string;
  [claim: string]: unknown;
}

/** A JOSE protected header as decoded from the token (untrusted until verified). */
export interface TokenHeader {
  alg: string;
  kid?: string;
  typ?: string;
  cty?: string;
  enc?: string;
  [parameter: string]: unknown;
}

/** What `verify` resolves to, and what the adapters attach as `auth`. */
export interface VerifiedToken<P extends TokenPayload = TokenPayload> {
  /** The verified claims. */
  payload: P;
  /** The protected header of the signed token (the inner JWS when nested). */
  header: TokenHeader;
  /** The JWE protected header when the token was encrypted. */
  encryption?: TokenHeader;
  /** The compact token as received. */
  token: string;
}
