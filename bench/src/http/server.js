// A target server in its own process, so each framework has a core and a heap to itself.
import { listen } from './targets.js';

let closing;

process.on('message', async (message) => {
  if (message.type === 'start') {
    try {
      const server = await listen(message.target, message.config);
      closing = server.close;
      process.send({ type: 'listening', port: server.port });
    } catch (err) {
      process.send({ type: 'error', error: err?.stack ?? String(err) });
    }
  } else if (message.type === 'cpu') {
    // CPU time is steadier than req/s on a shared machine: it is what this process spent.
    const { user, system } = process.cpuUsage();
    process.send({ type: 'cpu', micros: user + system });
  } else if (message.type === 'profile') {
    // Only `profile.js` sends these: the measured runs never load the inspector.
    const probe = await import('./probe.js');
    const result = await probe[message.phase](message.kind);
    process.send({ type: 'profile', result });
  } else if (message.type === 'stop') {
    await closing?.();
    process.exit(0);
  }
});
