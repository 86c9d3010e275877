import { HttpException } from '@nestjs/common';
import type { HttpError, VerificationError, VerificationErrorCode } from '@tokengate/core';

/**
 * A rejection, as the Nest `HttpException` exception filters catch: the status and body
 * (`{ error, error_description }`) tokengate answers with, the challenge headers
 * (`WWW-Authenticate`, and `Retry-After` or `DPoP-Nonce` where they apply) and the error code.
 * The `VerificationError` is its `cause`.
 *
 * Unless `passErrors` is set, the guard has already put `headers` on the response when this is
 * thrown, so a filter that reshapes the body keeps the status and challenge by answering with
 * `getStatus()`. With `passErrors`, the response is left alone: the filter sets `headers` itself.
 */
export class TokengateException extends HttpException {
  /** The stable error code (`token_expired`, `scope_insufficient`, …), as logged. */
  readonly code: VerificationErrorCode;
  /** `WWW-Authenticate`, and `Retry-After` or `DPoP-Nonce` where they apply. */
  readonly headers: Readonly<Record<string, string>>;

  constructor(error: VerificationError, answer: HttpError) {
    super(answer.body, answer.status, { cause: error });
    this.name = 'TokengateException';
    this.code = error.code;
    this.headers = answer.headers;
  }
}
