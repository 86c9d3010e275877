import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../packages/core/test/vectors/load.js';
import { escapesRoot, findOutsideReferences } from './path-references.js';

// Pieces joined at run time so this file itself holds no outside reference.
const up = '..' + '/';
const slash = '/';
const dots = '..';

describe('the outside-reference detector', () => {
  it.each([
    ['README.md', `see [design](${up}shared/DESIGN.md)`, 'the shared folder beside the repository'],
    [
      'a/b.ts',
      `resolve(ROOT, '${dots}', 'shared', 'vectors')`,
      'the shared folder beside the repository',
    ],
    ['x.ts', `const dir = '${slash}work${slash}shared/vectors';`, 'absolute path to this workshop'],
    ['x.ts', `cd ${slash}home${slash}alice/src`, 'absolute path to a home folder'],
    ['x.ts', `open('${slash}root${slash}.npmrc')`, 'absolute path to the root home folder'],
    [
      'x.ts',
      `git clone . ${slash}tmp${slash}lone`,
      'absolute path to a temporary folder (use os.tmpdir())',
    ],
    ['x.ts', `'C:\\\\Users\\\\me'`, 'absolute Windows path'],
    [
      'packages/core/x.ts',
      `import '${up}${up}${up}elsewhere.js'`,
      'relative path leaving the repository',
    ],
    ['README.md', `[x](${up}sibling/README.md)`, 'relative path leaving the repository'],
  ])('%s: %s is caught (%s)', (file, line, why) => {
    const found = findOutsideReferences(file, `ok\n${line}\n`);
    expect(found.map((f) => [f.line, f.why])).toContainEqual([2, why]);
  });

  it.each([
    ['packages/core/test/a.test.ts', `import '${up}${up}${up}test/fixtures/http.js'`],
    ['packages/core/README.md', `[root](${up}${up}README.md)`],
    ['packages/core/test/dpop.test.ts', `'https://api.test/a/${up}orders'`],
    ['x.ts', `'file:${slash}${slash}${slash}etc/jwks.json'`],
    ['x.ts', `join(tmpdir(), 'lone')`],
  ])('%s: %s is inside the repository', (file, line) => {
    expect(findOutsideReferences(file, line)).toEqual([]);
  });

  it('reads pnpm-lock.yaml link: versions from their importer', () => {
    const lock = ['importers:', '  examples/demo:', `    version: link:${up}${up}packages/core`];
    expect(findOutsideReferences('pnpm-lock.yaml', lock.join('\n'))).toEqual([]);
    const escaping = ['importers:', '  .:', `    version: link:${up}shared`];
    expect(findOutsideReferences('pnpm-lock.yaml', escaping.join('\n'))).not.toEqual([]);
  });

  it('tells leaving the root from staying in it', () => {
    expect(escapesRoot('packages/core', `${up}${up}x`)).toBe(false);
    expect(escapesRoot('packages/core', `${up}${up}${up}x`)).toBe(true);
    expect(escapesRoot('', up)).toBe(true);
  });
});

describe('the repository is self-contained', () => {
  it('no tracked file (code, config, docs) refers to a path outside the repository', () => {
    const files = execFileSync('git', ['ls-files', '-z'], { cwd: REPO_ROOT, encoding: 'utf8' })
      .split('\0')
      .filter(Boolean);
    let scanned = 0;
    const found = [];
    for (const file of files) {
      const bytes = readFileSync(join(REPO_ROOT, file));
      if (bytes.includes(0)) continue; // binary
      scanned++;
      found.push(...findOutsideReferences(file, bytes.toString('utf8')));
    }
    // Guards against a vacuous pass (wrong folder, git missing files): the repository has >150.
    expect(scanned).toBeGreaterThan(150);
    expect(files).toContain('README.md');
    expect(files).toContain('test/vectors/README.md');
    expect(found.map((f) => `${f.file}:${f.line} ${f.text} (${f.why})`)).toEqual([]);
  });
});
