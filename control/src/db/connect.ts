import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import type { SQL } from 'drizzle-orm';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import pg from 'pg';
import { lockDataDir } from './data-dir-lock.ts';
import * as schema from './schema.ts';

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

export interface Database {
  db: Db;
  /**
   * For background work (the webhook delivery worker): on PostgreSQL a pool of its own, so
   * that a burst of requests queued on `db`'s pool cannot starve it; on PGlite `db` itself.
   */
  background: Db;
  kind: 'postgres' | 'pglite';
  close(): Promise<void>;
}

const migrationsFolder = fileURLToPath(new URL('../../drizzle', import.meta.url));
// Any constant will do; it only has to be the same for every control-plane process.
const MIGRATION_LOCK = 7_146_001;

/**
 * Opens PostgreSQL when a URL is given, else PGlite (PostgreSQL in WebAssembly) in
 * `dataDir`, or in memory when `dataDir` is 'memory://'. Migrations are applied before
 * the handle is returned, under an advisory lock so that replicas starting together
 * do not race.
 */
export async function openDatabase(opts: {
  databaseUrl?: string;
  dataDir: string;
  poolSize?: number;
  /** connections of the background pool (PostgreSQL only) */
  backgroundPoolSize?: number;
  /** told of connections PostgreSQL dropped (a restart, a failover); they are replaced */
  onConnectionError?: (err: Error) => void;
}): Promise<Database> {
  if (opts.databaseUrl) {
    const pool = new pg.Pool({ connectionString: opts.databaseUrl, max: opts.poolSize ?? 10 });
    // A connection PostgreSQL ends (restart, failover, pg_terminate_backend) emits 'error':
    // on the pool when idle, on the client when checked out between two queries. Without a
    // listener Node ends the process; with one the pool drops that connection, the request
    // using it fails (503, see databaseUnavailable) and the next one gets a new connection.
    const onError = (err: Error) => opts.onConnectionError?.(err);
    pool.on('error', onError);
    pool.on('connect', (client) => client.on('error', onError));
    const db = drizzlePg({ client: pool, schema }) as unknown as Db;
    const client = await pool.connect();
    try {
      await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK]);
      await migratePg(drizzlePg({ client, schema }), { migrationsFolder });
    } finally {
      await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {});
      client.release();
    }
    const backgroundPool = new pg.Pool({
      connectionString: opts.databaseUrl,
      max: opts.backgroundPoolSize ?? 2,
    });
    backgroundPool.on('error', onError);
    backgroundPool.on('connect', (client) => client.on('error', onError));
    const background = drizzlePg({ client: backgroundPool, schema }) as unknown as Db;
    return {
      db,
      background,
      kind: 'postgres',
      close: async () => {
        await backgroundPool.end();
        await pool.end();
      },
    };
  }
  let unlock = () => {};
  if (!opts.dataDir.startsWith('memory://')) {
    mkdirSync(opts.dataDir, { recursive: true });
    unlock = lockDataDir(opts.dataDir); // PGlite is one process: a second one loses writes
  }
  try {
    const client = await PGlite.create(opts.dataDir);
    const db = drizzlePglite({ client, schema });
    await migratePglite(db, { migrationsFolder });
    return {
      db: db as unknown as Db,
      background: db as unknown as Db,
      kind: 'pglite',
      close: () => client.close().finally(unlock),
    };
  } catch (err) {
    unlock();
    throw err;
  }
}

// SQLSTATEs of a server going away: the class 08 connection exceptions, admin_shutdown,
// crash_shutdown, cannot_connect_now (starting up or shutting down)
const UNAVAILABLE_STATES = /^(08...|57P0[123])$/;
// socket errors of a server that is not there (yet)
const UNAVAILABLE_ERRNOS = ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND'];
// node-postgres's own errors for a connection that ended under it
const UNAVAILABLE_MESSAGES =
  /^(Connection terminated|Client has encountered a connection error|Client was closed)/;

/**
 * Whether an error (raw, or wrapped by drizzle) means the database cannot be reached right
 * now, rather than that the query was wrong: worth a 503 and a retry, never a 500.
 */
export function databaseUnavailable(err: unknown): boolean {
  for (
    let e = err as { code?: unknown; message?: unknown; cause?: unknown } | undefined;
    e && typeof e === 'object';
    e = e.cause as typeof e
  ) {
    if (typeof e.code === 'string') {
      if (UNAVAILABLE_STATES.test(e.code) || UNAVAILABLE_ERRNOS.includes(e.code)) return true;
    }
    if (typeof e.message === 'string' && UNAVAILABLE_MESSAGES.test(e.message)) return true;
  }
  return false;
}

/** Rows of a raw query; node-postgres and PGlite both answer with `{ rows }`. */
export async function queryRows<T = Record<string, unknown>>(
  db: Db | Tx,
  query: SQL,
): Promise<T[]> {
  const result = (await db.execute(query)) as unknown as { rows: T[] };
  return result.rows;
}

/** The node-postgres pool under `db`, or null on PGlite: for what drizzle does not offer (COPY). */
export function postgresPool(db: Db): pg.Pool | null {
  const client = (db as unknown as { $client: unknown }).$client;
  return client instanceof pg.Pool ? client : null;
}

/** The PGlite instance under `db`, or null on PostgreSQL: for what drizzle does not offer (COPY). */
export function pgliteClient(db: Db): PGlite | null {
  const client = (db as unknown as { $client: unknown }).$client;
  return client instanceof PGlite ? client : null;
}

/** node-postgres type parsers that leave every value as PostgreSQL's text */
const RAW_TEXT = { getTypeParser: () => (text: string) => text };

/**
 * Rows of a raw query as arrays of each column's text, unparsed: for bulk reads such as
 * exports, where building an object and parsing each value per row costs more than the
 * query itself. Columns that are not text in SQL should be cast (`::text`) so that both
 * databases answer the same (PGlite parses the types it knows).
 */
export async function queryTextRows(
  db: Db,
  text: string,
  params: unknown[],
): Promise<(string | null)[][]> {
  const client = (db as unknown as { $client: pg.Pool | PGlite }).$client;
  if (client instanceof PGlite) {
    return (await client.query<(string | null)[]>(text, params, { rowMode: 'array' })).rows;
  }
  const result = await client.query<(string | null)[]>({
    text,
    values: params,
    rowMode: 'array',
    types: RAW_TEXT,
  });
  return result.rows;
}
