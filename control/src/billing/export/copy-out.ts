/**
 * The bytes of `COPY (an export's query) TO …` for each part in turn, from either database:
 * on PostgreSQL streamed through pg-copy-streams on one connection of the pool, on PGlite
 * COPY to its in-memory blob PGLITE_COPY_ROWS records at a time (by keyset, so memory stays
 * flat). The CSV export (copy-csv.ts) reads it as text, the Parquet one (parquet.ts) as
 * PostgreSQL's binary format: either way the database does the reading, in C, and no row
 * becomes a JavaScript object.
 */
import type { PGlite } from '@electric-sql/pglite';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { type Db, pgliteClient, postgresPool } from '../../db/connect.ts';
import type { ExportPart } from './read.ts';

/**
 * The COPY statement of the part's records with ids in (after, upTo], to node-postgres's
 * stream or to PGlite's blob. COPY takes no parameters: `literal` quotes values.
 */
export type CopyQuery = (
  part: ExportPart,
  ids: { after: string; upTo: string },
  literal: (v: string) => string,
  to: 'stdout' | "'/dev/blob'",
) => string;

/** `and` clauses of the part's range (records whose slice starts in [from, to)), if any */
export function rangeSql(part: ExportPart, literal: (v: string) => string): string {
  return [
    part.from ? `and r.slice_start >= ${literal(part.from.toISOString())}::timestamptz` : '',
    part.to ? `and r.slice_start < ${literal(part.to.toISOString())}::timestamptz` : '',
  ].join(' ');
}

/** Records per COPY on PGlite, whose COPY writes a blob in memory rather than a stream. */
export const PGLITE_COPY_ROWS = 20_000;

const CEILING = 'select max(id)::text as top from usage_records where period_id = $1';

/** A literal with standard_conforming_strings on (PGlite's default, never changed here). */
const pgliteLiteral = (v: string) => `'${v.replaceAll("'", "''")}'`;

/**
 * The COPY output of each part, chunk by chunk as the database sends it. Returning the
 * generator early (a cancelled download) stops the COPY; on PostgreSQL its connection is
 * then closed rather than reused, being in the middle of a COPY.
 */
export function copyChunks(db: Db, parts: ExportPart[], query: CopyQuery): AsyncGenerator<Buffer> {
  const pool = postgresPool(db);
  if (pool) return postgresChunks(pool, parts, query);
  return pgliteChunks(pgliteClient(db) as PGlite, parts, query);
}

async function* postgresChunks(
  pool: pg.Pool,
  parts: ExportPart[],
  query: CopyQuery,
): AsyncGenerator<Buffer> {
  const client = await pool.connect();
  let stream: ReturnType<typeof copyTo> | null = null;
  let done = false;
  try {
    for (const part of parts) {
      // records an open period's refresh writes while this runs have higher ids: left out
      const top = await client.query<{ top: string | null }>(CEILING, [part.periodId]);
      const ids = { after: '0', upTo: top.rows[0]?.top ?? '0' };
      stream = client.query(copyTo(query(part, ids, (v) => client.escapeLiteral(v), 'stdout')));
      for await (const chunk of stream) yield chunk as Buffer;
      stream = null;
    }
    done = true;
  } finally {
    stream?.destroy();
    client.release(!done);
  }
}

async function* pgliteChunks(
  client: PGlite,
  parts: ExportPart[],
  query: CopyQuery,
): AsyncGenerator<Buffer> {
  for (const part of parts) {
    const top = await client.query<{ top: string | null }>(CEILING, [part.periodId]);
    const ceiling = top.rows[0]?.top ?? '0';
    let after = '0';
    while (BigInt(after) < BigInt(ceiling)) {
      // the id that ends this batch: the PGLITE_COPY_ROWS-th after `after`, or the ceiling
      const end = await client.query<{ id: string }>(
        `select id::text as id from usage_records
          where period_id = $1 and id > $2::int8 and id <= $3::int8
          order by id offset ${PGLITE_COPY_ROWS - 1} limit 1`,
        [part.periodId, after, ceiling],
      );
      const upTo = end.rows[0]?.id ?? ceiling;
      const copied = await client.query(query(part, { after, upTo }, pgliteLiteral, "'/dev/blob'"));
      after = upTo;
      const bytes = copied.blob ? Buffer.from(await copied.blob.arrayBuffer()) : null;
      if (bytes && bytes.length > 0) yield bytes;
    }
  }
}
