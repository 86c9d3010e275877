import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('../child-main.js', import.meta.url));

/**
 * Runs one section (`micro`, `jwks`, `memory`) in a fresh process with `--expose-gc`, so its
 * heap, JIT state and GC pressure do not leak into the next section. Resolves to what the
 * section's `run(options)` returned.
 */
export function runSection(name, options, execArgv = []) {
  return new Promise((resolve, reject) => {
    const child = fork(CHILD, [name], {
      execArgv: ['--expose-gc', ...execArgv],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let result;
    child.on('message', (message) => {
      if (message.type === 'result') result = message.value;
      else if (message.type === 'error') result = { error: message.error };
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (result && !result.error) resolve(result);
      else reject(new Error(result?.error ?? `section ${name} exited with code ${code}`));
    });
    child.send({ type: 'run', options });
  });
}
