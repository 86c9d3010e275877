// Structural limits on decoded JSON (JOSE headers, claim sets, DPoP proofs, key sets, issuer
// metadata): checked on text JSON.parse has already accepted, by one bounded loop.

/**
 * How deeply objects and arrays may nest in any JSON tokengate decodes. No JOSE header, claim
 * set, JWK or metadata document needs more than a few levels; the limit is explicit so that a
 * deeply nested (but validly signed) document is refused for that reason, by design, rather
 * than by whatever recursion first runs out of stack.
 */
export const MAX_JSON_DEPTH = 32;

/**
 * The first structural problem of `text` (which JSON.parse accepted), or undefined: nesting
 * deeper than `maxDepth`, or, with `duplicates`, an object that names a member twice (names
 * compared after unescaping, so `"alg"` and `"\u0061lg"` are the same).
 */
export function jsonStructureProblem(
  text: string,
  { maxDepth = MAX_JSON_DEPTH, duplicates = false }: { maxDepth?: number; duplicates?: boolean },
): 'too deep' | 'duplicate member' | undefined {
  // One entry per open object (its member names, when checked) or array (undefined).
  const open: (Set<string> | null | undefined)[] = [];
  let atName = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      let end = i + 1;
      let escaped = false;
      for (; end < text.length && text.charCodeAt(end) !== 0x22; end++) {
        if (text.charCodeAt(end) === 0x5c) {
          end++;
          escaped = true;
        }
      }
      const names = open[open.length - 1];
      if (atName && names) {
        const name = escaped
          ? (JSON.parse(text.slice(i, end + 1)) as string)
          : text.slice(i + 1, end);
        if (names.has(name)) return 'duplicate member';
        names.add(name);
      }
      atName = false;
      i = end;
    } else if (c === 0x7b || c === 0x5b) {
      if (open.length === maxDepth) return 'too deep';
      // null: an object whose names are not checked.
      open.push(c === 0x5b ? undefined : duplicates ? new Set() : null);
      atName = c === 0x7b;
    } else if (c === 0x7d || c === 0x5d) {
      open.pop();
    } else if (c === 0x2c) {
      atName = open[open.length - 1] !== undefined;
    }
  }
  return undefined;
}

/**
 * The same answer as `jsonStructureProblem(text, { duplicates: true })` for `text` that
 * JSON.parse turned into `value`, without building a set of names per object: JSON.parse keeps
 * one member per distinct name, so the objects of `value` hold, in all, as many members as the
 * text names exactly when no object of the text names a member twice. One pass over the text
 * (depth, and the count of member names; no string is sliced) and one over `value` (its member
 * count; only when the text nests containers). Only when the counts differ does the exact scan
 * run, and a difference it cannot explain still fails closed.
 */
export function parsedJsonProblem(
  text: string,
  value: unknown,
): 'too deep' | 'duplicate member' | undefined {
  // Bit d set: the container open at depth d is an object (MAX_JSON_DEPTH ≤ 32 bits).
  let objects = 0;
  let depth = 0;
  let names = 0;
  let nested = false;
  let atName = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      if (atName) names++;
      atName = false;
      i = closingQuote(text, i);
    } else if (c === 0x7b || c === 0x5b) {
      if (depth === MAX_JSON_DEPTH) return 'too deep';
      if (depth > 0) nested = true;
      if (c === 0x7b) objects |= 1 << depth;
      else objects &= ~(1 << depth);
      depth++;
      atName = c === 0x7b;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    } else if (c === 0x2c) {
      atName = ((objects >>> (depth - 1)) & 1) === 1;
    }
  }
  const members = nested ? memberCount(value) : topMemberCount(value);
  if (members === names) return undefined;
  return jsonStructureProblem(text, { duplicates: true }) ?? 'duplicate member';
}

/** The index of the quote that closes the string opened at `open` (or the text's end). */
function closingQuote(text: string, open: number): number {
  let end = text.indexOf('"', open + 1);
  while (end !== -1) {
    // Escaped when preceded by an odd run of backslashes.
    let backslashes = 0;
    while (text.charCodeAt(end - 1 - backslashes) === 0x5c) backslashes++;
    if ((backslashes & 1) === 0) return end;
    end = text.indexOf('"', end + 1);
  }
  return text.length;
}

/** Own members of a top-level object (or 0 for anything else): a flat claim set or header. */
function topMemberCount(value: unknown): number {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? Object.keys(value).length
    : 0;
}

/** Own members of every object in `value`, at any depth (bounded by MAX_JSON_DEPTH). */
function memberCount(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 0;
  let count = 0;
  if (Array.isArray(value)) {
    for (const item of value) count += memberCount(item);
    return count;
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  count = keys.length;
  for (const key of keys) count += memberCount(record[key]);
  return count;
}
