// Express 4 and Koa 2, installed under aliases so the conformance table also runs against the
// older majors the adapters support. Their APIs used by the drivers match the current types.
declare module 'express4' {
  import express from 'express';
  export default express;
}
declare module 'koa2' {
  import Koa from 'koa';
  export default Koa;
}
