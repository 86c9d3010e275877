// A redis-server for the revocation row: 127.0.0.1, a free port, no persistence. The row measures
// the real denylist (its list loaded from Redis), so a missing redis-server is a FAILED row, not a
// silent skip.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';

async function freePort() {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** Starts redis-server; resolves to `{ url, close() }` once it accepts connections. */
export async function startRedis() {
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'ignore'] });
  const orphan = () => child.kill('SIGKILL');
  process.once('exit', orphan);
  await new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error('redis-server not ready in 10 s')), 10_000);
    child.once('error', (err) => reject(new Error(`redis-server: ${err.message}`)));
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      output = (output + chunk).slice(-2000);
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  child.stdout.resume();
  return {
    url: `redis://127.0.0.1:${port}`,
    async close() {
      process.off('exit', orphan);
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}
