#!/usr/bin/env node
// The `tokengate` command. Everything happens in main(); this file only wires the process.
import { main } from './main.js';

const code = await main(process.argv.slice(2), {
  stdin: process.stdin,
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
});
// Exit now rather than when idle keep-alive sockets to the key server close; stdout and stderr
// are written synchronously to files and pipes on POSIX, so nothing printed is lost.
process.exit(code);
