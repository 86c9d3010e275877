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
