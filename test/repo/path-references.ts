import { posix } from 'node:path';

/** One reference from a tracked file to a place outside the repository. */
export interface OutsideReference {
  file: string;
  line: number;
  text: string;
  why: string;
}

// Absolute paths that only exist on one machine, and the folder that used to sit beside the clone.
// Written with character classes so this file does not match itself.
const MACHINE_PATHS: readonly { pattern: RegExp; why: string }[] = [
  { pattern: /(?<![\w.:])[/]work[/]/, why: 'absolute path to this workshop' },
  { pattern: /(?<![\w.:])[/](?:home|Users)[/][\w.-]+/, why: 'absolute path to a home folder' },
  { pattern: /(?<![\w.:])[/]root[/]/, why: 'absolute path to the root home folder' },
  {
    pattern: /(?<![\w.:])[/]tmp[/]\w/,
    why: 'absolute path to a temporary folder (use os.tmpdir())',
  },
  { pattern: /(?<![\w])[A-Za-z]:[\\][\\]?\w/, why: 'absolute Windows path' },
  {
    pattern: /\.\.['"`]?\s*[,/\\]\s*['"`]?shared\b/,
    why: 'the shared folder beside the repository',
  },
];

// A run of `../` not inside a longer path (`a/../b` in a URL is not a file reference).
const PARENT_RUN = /(?:^|[^\w./\\-])((?:\.\.[/])+[\w@.\-/]*)/g;

const ROOT = '/repository-root';

/** True when `ref`, read relative to the folder `fromDir` (repository-relative), leaves the root. */
export function escapesRoot(fromDir: string, ref: string): boolean {
  const resolved = posix.resolve(ROOT, fromDir, ref);
  return resolved !== ROOT && !resolved.startsWith(`${ROOT}/`);
}

/**
 * The folder each line's relative paths are read from: the file's own folder, except in
 * pnpm-lock.yaml, whose `link:` versions are relative to the importer they sit under.
 */
function baseDirs(file: string, lines: readonly string[]): string[] {
  const own = posix.dirname(file);
  if (posix.basename(file) !== 'pnpm-lock.yaml') return lines.map(() => own);
  let inImporters = false;
  let importer = own;
  return lines.map((line) => {
    if (/^\S/.test(line)) inImporters = line === 'importers:';
    const match = inImporters ? /^ {2}(\S[^:]*):\s*$/.exec(line) : null;
    if (match) importer = posix.join(own, match[1]!);
    return inImporters ? importer : own;
  });
}

/** Every reference in one file (repository-relative path, text) to a place outside the repository. */
export function findOutsideReferences(file: string, text: string): OutsideReference[] {
  const found: OutsideReference[] = [];
  const lines = text.split(/\r?\n/);
  const dirs = baseDirs(file, lines);
  lines.forEach((content, i) => {
    for (const { pattern, why } of MACHINE_PATHS) {
      const m = pattern.exec(content);
      if (m) found.push({ file, line: i + 1, text: m[0], why });
    }
    for (const m of content.matchAll(PARENT_RUN)) {
      if (escapesRoot(dirs[i]!, m[1]!)) {
        found.push({ file, line: i + 1, text: m[1]!, why: 'relative path leaving the repository' });
      }
    }
  });
  return found;
}
