// Turning untrusted token data into terminal text. Everything printed from a token goes through
// `printable`: a token is attacker input, and escape sequences in a claim could rewrite the
// terminal (move the cursor, hide a line, set the window title).

// C0 and C1 controls, DEL, zero-width and bidirectional overrides (the "Trojan Source" set).
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069]/g;

/** A string safe to print: controls and bidi overrides become `\uXXXX` escapes. */
export function printable(text: string): string {
  return text.replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A JSON value in one line, safe to print (strings unquoted at the top level). */
export function showValue(value: unknown): string {
  return printable(typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value)));
}

/** `1 h 2 min`, `4 min 59 s`, `12 s`: a duration in seconds, rounded to what a person reads. */
export function humanDuration(seconds: number): string {
  const s = Math.round(Math.abs(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return join(Math.floor(s / 60), 'min', s % 60, 's');
  if (s < 86_400) return join(Math.floor(s / 3600), 'h', Math.floor((s % 3600) / 60), 'min');
  return join(Math.floor(s / 86_400), 'd', Math.floor((s % 86_400) / 3600), 'h');
}

function join(big: number, bigUnit: string, small: number, smallUnit: string): string {
  return small === 0 ? `${big} ${bigUnit}` : `${big} ${bigUnit} ${small} ${smallUnit}`;
}

/** `in 5 min` or `3 h ago`, relative to `now` (epoch seconds). */
export function relative(time: number, now: number): string {
  const delta = time - now;
  return delta >= 0 ? `in ${humanDuration(delta)}` : `${humanDuration(delta)} ago`;
}

/** An epoch-seconds time as an ISO 8601 UTC date without milliseconds. */
export function isoDate(time: number): string {
  return new Date(Math.floor(time) * 1000).toISOString().replace('.000Z', 'Z');
}

/** A NumericDate claim as `1767225900 = 2026-01-01T00:05:00Z (in 5 min)`; odd values as is. */
export function showDate(value: unknown, now: number): string {
  if (typeof value !== 'number' || !Number.isFinite(value) || Math.abs(value) > 8.64e12) {
    return `${showValue(value)} (not a NumericDate)`;
  }
  return `${value} = ${isoDate(value)} (${relative(value, now)})`;
}
