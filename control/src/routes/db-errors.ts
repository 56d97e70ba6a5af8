import { conflict } from '../http/errors.ts';

/** PostgreSQL's SQLSTATE of an error, whether raw (pg, PGlite) or wrapped by drizzle. */
export function sqlState(err: unknown): string | undefined {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) return e.code;
  }
  return undefined;
}

/** A `.catch` handler turning a unique-constraint violation into a 409 with `message`. */
export const uniqueViolation =
  (message: string) =>
  (err: unknown): never => {
    if (sqlState(err) === '23505') throw conflict(message);
    throw err;
  };
