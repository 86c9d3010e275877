import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The repository root: the nearest folder above this file holding `pnpm-workspace.yaml`. Found by
 * walking up, so it works wherever the repository is cloned (any folder a clone sits in).
 */
function findRepoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 10; i++) {
    if (existsSync(join(dir, 'pnpm-workspace.yaml'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error(`vectors: no pnpm-workspace.yaml above ${fileURLToPath(import.meta.url)}`);
}

export const REPO_ROOT = findRepoRoot();

/** The vectors are copied into the repository (`test/vectors/`, see its README for sources). */
export const VECTORS_DIR = join(REPO_ROOT, 'test', 'vectors');

// Fail loudly at import: a missing copy must never look like a passing (empty) suite.
if (!existsSync(join(VECTORS_DIR, 'README.md'))) {
  throw new Error(
    `vectors: ${VECTORS_DIR} is missing. The security vectors live in test/vectors inside the ` +
      'repository; these tests refuse to skip.',
  );
}

/** Reads and parses one JSON file below test/vectors (a missing file throws). */
export function readVector<T>(relative: string): T {
  const file = join(VECTORS_DIR, relative);
  if (!existsSync(file)) throw new Error(`vectors: ${file} is missing`);
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

/** A JWK as the vector files write it: any members, all untrusted. */
export type VectorJwk = Record<string, unknown>;

/** One Wycheproof JOSE test (`json_web_*_test.json`). */
export interface WycheproofTest {
  tcId: number;
  comment: string;
  jws?: string;
  jwe?: string;
  /** Plaintext in hex, for JWE cases. */
  pt?: string;
  result: 'valid' | 'invalid' | 'acceptable';
  flags: string[];
}

export interface WycheproofGroup<K = VectorJwk> {
  type: string;
  comment?: string;
  private: K;
  public?: K;
  tests: WycheproofTest[];
}

export interface WycheproofFile<K = VectorJwk> {
  numberOfTests: number;
  testGroups: WycheproofGroup<K>[];
}

/** A test with the key it is checked with. */
export interface WycheproofCase<K = VectorJwk> extends WycheproofTest {
  key: K;
  group: string;
}

/**
 * Loads a Wycheproof file as a flat list of cases, and checks the copy is whole: the case count
 * must equal `numberOfTests` and tcIds must be unique. `key` is the group's `public` key when
 * present, else `private` (the schema's rule for verifying); decryption needs `private`.
 */
export function loadWycheproof<K = VectorJwk>(
  name: string,
  { key = 'verify' }: { key?: 'verify' | 'decrypt' } = {},
): WycheproofCase<K>[] {
  const file = readVector<WycheproofFile<K>>(`wycheproof/${name}`);
  const cases = file.testGroups.flatMap((g) =>
    g.tests.map((t) => ({
      ...t,
      key: key === 'decrypt' ? g.private : (g.public ?? g.private),
      group: g.comment ?? g.type,
    })),
  );
  if (cases.length !== file.numberOfTests) {
    throw new Error(`vectors: ${name} has ${cases.length} tests, expected ${file.numberOfTests}`);
  }
  if (new Set(cases.map((c) => c.tcId)).size !== cases.length) {
    throw new Error(`vectors: ${name} has duplicate tcIds`);
  }
  return cases;
}

/** How a case ended against what the file (or a departure) says. */
export type Verdict = 'passed' | 'departure' | 'unexplained';

/**
 * Counts verdicts for one vector file and prints a single summary line, e.g.
 * `wycheproof JWS: 401 cases, 392 passed, 9 departures, 0 unexplained`.
 */
export function createTally(label: string) {
  const verdicts = new Map<number | string, Verdict>();
  const unexplained: string[] = [];
  return {
    record(id: number | string, verdict: Verdict, detail = ''): void {
      verdicts.set(id, verdict);
      if (verdict === 'unexplained') unexplained.push(`${id}${detail ? ` (${detail})` : ''}`);
    },
    count(verdict: Verdict): number {
      return [...verdicts.values()].filter((v) => v === verdict).length;
    },
    get size(): number {
      return verdicts.size;
    },
    unexplained: (): readonly string[] => unexplained,
    line(): string {
      const n = (v: Verdict) => [...verdicts.values()].filter((x) => x === v).length;
      const list = unexplained.length ? `: ${unexplained.join(', ')}` : '';
      return (
        `${label}: ${verdicts.size} cases, ${n('passed')} passed, ${n('departure')} departures, ` +
        `${n('unexplained')} unexplained${list}`
      );
    },
  };
}
