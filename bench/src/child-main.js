// Entry point of a section process (see lib/child.js): runs one section, sends back its result.
const sections = {
  micro: () => import('./micro.js'),
  jwks: () => import('./jwks.js'),
  memory: () => import('./memory.js'),
  fleet: () => import('./fleet.js'),
};

const name = process.argv[2];

process.once('message', async (message) => {
  try {
    const { run } = await sections[name]();
    const value = await run(message.options);
    process.send({ type: 'result', value }, () => process.exit(0));
  } catch (err) {
    process.send({ type: 'error', error: err?.stack ?? String(err) }, () => process.exit(1));
  }
});
