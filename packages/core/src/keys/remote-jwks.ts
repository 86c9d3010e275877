// CONTRACT ONLY: the JWKS helper replaces this file with the implementation.
import type { Clock } from '../clock.js';
import type { Duration } from '../duration.js';
import type { KeySelector, KeySource, Logger, VerificationKey } from '../types.js';

export interface RemoteJwksOptions {
  now?: Clock;
  logger?: Logger;
  timeout?: Duration;
  maxBodyBytes?: number;
  cooldown?: Duration;
  minTtl?: Duration;
  maxTtl?: Duration;
  defaultTtl?: Duration;
  maxStale?: Duration;
  allowInsecureHttp?: boolean;
}

export interface RemoteJwksStatus {
  uri: string;
  keys: string[];
}

export interface RemoteJwks extends KeySource {
  readonly uri: string;
  getKey(selector: KeySelector): Promise<VerificationKey>;
  status(): RemoteJwksStatus;
}

export function createRemoteJwks(uri: string, options: RemoteJwksOptions = {}): RemoteJwks {
  void uri;
  void options;
  throw new Error('not implemented');
}
