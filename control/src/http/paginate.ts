import { lt, type SQL } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';

/**
 * Keyset pagination over UUIDv7 ids (time-ordered): newest first, `cursor` is the last
 * id of the previous page. Callers fetch `limit + 1` rows and pass them to `pageOf`.
 */
export function afterCursor(id: PgColumn, cursor: string | undefined): SQL | undefined {
  return cursor ? lt(id, cursor) : undefined;
}

export function pageOf<T extends { id: string }, U>(
  rows: T[],
  limit: number,
  present: (r: T) => U,
) {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return {
    items: items.map(present),
    nextCursor: rows.length > limit && last ? last.id : null,
  };
}
