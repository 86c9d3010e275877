// The NestJS app of the packaging test (run.js): installed from the tarballs, importing only
// from @tokengate/nestjs (its re-exports of core included), on platform-express. Rejections go
// through Nest's Logger, here Nest's JSON console logger (run.js unwraps its lines). Plain
// JavaScript, so the decorators are applied as functions.
import 'reflect-metadata';
import { ConsoleLogger, Controller, Get, Module } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import {
  Auth,
  Claims,
  Scopes,
  TokengateGuard,
  TokengateModule,
  claimEquals,
} from '@tokengate/nestjs';

const { TG_ISSUER: issuer, TG_AUDIENCE: audience, TG_JWKS_URI: jwksUri } = process.env;

class Orders {
  orders(auth) {
    return { user: auth.payload.sub };
  }
  admin(auth) {
    return { user: auth.payload.sub };
  }
}
const method = (name) => Object.getOwnPropertyDescriptor(Orders.prototype, name);
Reflect.decorate(
  [Get('orders'), Scopes('orders:read')],
  Orders.prototype,
  'orders',
  method('orders'),
);
Reflect.decorate(
  [Get('admin'), Claims(claimEquals('role', 'admin'))],
  Orders.prototype,
  'admin',
  method('admin'),
);
Auth()(Orders.prototype, 'orders', 0);
Auth()(Orders.prototype, 'admin', 0);
Reflect.decorate([Controller()], Orders);

class App {}
Reflect.decorate(
  [
    Module({
      imports: [TokengateModule.forRoot({ issuer, audience, jwksUri })],
      controllers: [Orders],
      providers: [{ provide: APP_GUARD, useClass: TokengateGuard }],
    }),
  ],
  App,
);

const app = await NestFactory.create(App, {
  logger: new ConsoleLogger({ json: true, logLevels: ['log', 'warn', 'error'] }),
});
await app.listen(0, '127.0.0.1');
console.log(JSON.stringify({ port: app.getHttpServer().address().port }));
