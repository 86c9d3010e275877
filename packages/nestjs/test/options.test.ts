import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { describe, expect, it } from 'vitest';
import { ACCEPTED_OPTIONS, REFUSED_OPTIONS } from '@tokengate/test-fixtures/unknown-options';
import { TokengateModule } from '../src/index.js';
import type { TokengateOptions } from '../src/index.js';

/** Creates (and closes) an app importing the module: undefined, or what creating it threw. */
async function create(options: Record<string, unknown>): Promise<unknown> {
  @Module({ imports: [TokengateModule.forRoot(options as TokengateOptions)] })
  class AppModule {}
  try {
    const app = await NestFactory.create(AppModule, { logger: false, abortOnError: false });
    await app.close();
    return undefined;
  } catch (err) {
    return err;
  }
}

describe('TokengateModule checks option names when the app is created', () => {
  it.each(REFUSED_OPTIONS)('refuses $name', async ({ options, message }) => {
    const err = await create(options);
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toMatch(message);
  });

  it('accepts every adapter setting, passErrors included', async () => {
    expect(await create(ACCEPTED_OPTIONS)).toBeUndefined();
  });
});
