// What an audit entry says changed: the fields that differ, with secrets never written.

export const REDACTED = '[redacted]';

// secrets by name: tokens, secrets, passwords, kubeconfigs, hashes and sealed values
const SECRET_KEY = /secret|token|password|passwd|kubeconfig|hash|sealed|credential|private/i;
// values that are secrets by nature however they are named: an app's environment variables
const VALUES_SECRET = new Set(['env']);

/** A value with its secrets replaced by "[redacted]" (objects recursively, keys kept). */
export function redact(value: unknown, key = ''): unknown {
  if (SECRET_KEY.test(key)) return value === null || value === undefined ? value : REDACTED;
  if (VALUES_SECRET.has(key) && value && typeof value === 'object' && !Array.isArray(value)) {
    return Object.fromEntries(Object.keys(value).map((k) => [k, REDACTED]));
  }
  if (Array.isArray(value)) return value.map((v) => redact(v));
  if (value instanceof Date) return value.toISOString();
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v, k)]));
  }
  return value;
}

const same = (a: unknown, b: unknown) =>
  JSON.stringify(a instanceof Date ? a.toISOString() : a) ===
  JSON.stringify(b instanceof Date ? b.toISOString() : b);

// bookkeeping columns every update moves: not news
const IGNORED = new Set(['updatedAt', 'createdAt']);

/**
 * `{field: {from, to}}` for the fields that differ between two versions of a record
 * (`before` null: created; `after` null: deleted), secrets redacted. A secret that changed
 * shows as `{from: "[redacted]", to: "[redacted]"}`: that it changed is worth knowing.
 */
export function auditDiff(
  before: Record<string, unknown> | null,
  after: Record<string, unknown> | null,
): Record<string, { from: unknown; to: unknown }> {
  const keys = new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})]);
  const diff: Record<string, { from: unknown; to: unknown }> = {};
  for (const key of keys) {
    if (IGNORED.has(key)) continue;
    const from = before?.[key] ?? null;
    const to = after?.[key] ?? null;
    if (same(from, to)) continue;
    diff[key] = { from: redact(from, key), to: redact(to, key) };
  }
  return diff;
}
