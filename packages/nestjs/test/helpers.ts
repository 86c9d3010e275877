// Real Nest apps on loopback for the unit tests, on either platform.
import 'reflect-metadata';
import type { INestApplication, LoggerService, ModuleMetadata } from '@nestjs/common';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach } from 'vitest';

export type Platform = 'express' | 'fastify';
export const PLATFORMS: Platform[] = ['express', 'fastify'];

export const answers = {
  reader: { sub: 'alice', scope: 'orders:read', role: 'clerk' },
  writer: { sub: 'bob', scope: 'orders:read orders:write', role: 'admin' },
  old: 'token_expired',
} as const;
export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

const apps: INestApplication[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

export interface StartOptions {
  /** The Nest app logger (`NestFactory.create`'s `logger`); default: off. */
  logger?: LoggerService | false;
  /** Called before `listen`, e.g. to add global filters. */
  configure?(app: INestApplication): void;
}

/** Creates the app for `metadata` on `platform` (rejecting with Nest's error, not exiting). */
export async function createApp(
  platform: Platform,
  metadata: ModuleMetadata,
  options: StartOptions = {},
): Promise<INestApplication> {
  @Module(metadata)
  class AppModule {}
  const adapter = platform === 'express' ? new ExpressAdapter() : new FastifyAdapter();
  const app = await NestFactory.create(AppModule, adapter, {
    logger: options.logger ?? false,
    abortOnError: false,
  });
  apps.push(app);
  return app;
}

/** Starts the app for `metadata` on 127.0.0.1 and returns its origin. Closed after each test. */
export async function startApp(
  platform: Platform,
  metadata: ModuleMetadata,
  options: StartOptions = {},
): Promise<string> {
  const app = await createApp(platform, metadata, options);
  options.configure?.(app);
  await app.listen(0, '127.0.0.1');
  const { port } = (app.getHttpServer() as Server).address() as AddressInfo;
  return `http://127.0.0.1:${port}`;
}

export interface Answer {
  status: number;
  challenge: string | null;
  body: unknown;
}

/** GET over real HTTP. */
export async function get(
  origin: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const res = await fetch(`${origin}${path}`, { headers });
  const text = await res.text();
  return {
    status: res.status,
    challenge: res.headers.get('www-authenticate'),
    body: text ? (JSON.parse(text) as unknown) : undefined,
  };
}

/** A Nest LoggerService that remembers every call. */
export function createNestLogger() {
  const calls: { level: string; message: unknown; params: unknown[] }[] = [];
  const at =
    (level: string) =>
    (message: unknown, ...params: unknown[]) =>
      void calls.push({ level, message, params });
  const logger: LoggerService = {
    log: at('log'),
    warn: at('warn'),
    error: at('error'),
    debug: at('debug'),
    verbose: at('verbose'),
  };
  return { logger, calls };
}
