#!/usr/bin/env node
// `pnpm pack:all [dir]`: one installable tarball per published package, in `packs/` by default.
// `pnpm pack` (not `npm pack`) so `workspace:^` ranges become the real versions in each tarball's
// package.json; run `pnpm build` first (the `pack:all` script does).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The published packages: every `packages/*` that is not private. */
export function publishedPackages() {
  return readdirSync(join(root, 'packages'))
    .map((name) => join(root, 'packages', name))
    .filter((dir) => {
      try {
        return !JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).private;
      } catch {
        return false;
      }
    });
}

/** Packs every published package into `out`; returns `{ name, tarball }` per package. */
export function packAll(out) {
  mkdirSync(out, { recursive: true });
  return publishedPackages().map((dir) => {
    const { name, version } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    execFileSync('pnpm', ['pack', '--pack-destination', out], {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'inherit'],
      timeout: 60_000,
    });
    // pnpm's file name: @scope/name@1.0.0 → scope-name-1.0.0.tgz
    const tarball = join(out, `${name.replace(/^@/, '').replace('/', '-')}-${version}.tgz`);
    return { name, version, tarball };
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = resolve(process.argv[2] ?? join(root, 'packs'));
  for (const { tarball } of packAll(out)) console.log(tarball);
}
