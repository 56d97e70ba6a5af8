import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Db, Tx } from './connect.ts';
import { SESSION_STATES, type sessions } from './schema.ts';

type SessionRow = typeof sessions.$inferSelect;

/**
 * The notifications the control-plane replicas exchange through PostgreSQL's LISTEN/NOTIFY;
 * payloads carry ids only (NOTIFY allows under 8000 bytes) and listeners re-read the rows.
 *
 * Configuration and cluster changes are rare: triggers notify them in the writing
 * transaction (drizzle/0013_replicas.sql), so every write path notifies and a rolled-back
 * change notifies nothing. Session changes are the hot path (each admission and
 * transition), and PostgreSQL serializes the commits of notifying transactions, WAL flush
 * included (a lock on the queue held through commit): in the writing transaction they cut
 * the database's admission rate several times (docs/benchmarks.md). So they are sent after
 * the commit (`sessionChanged`), batched, on the bus's own connection with asynchronous
 * commit; a notification lost meanwhile (the bus reconnecting) is covered by the resync.
 */
const json = <T extends z.ZodType>(schema: T) =>
  z
    .string()
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'not JSON' });
        return z.NEVER;
      }
    })
    .pipe(schema);

export const CHANNELS = {
  /** a configuration table changed (payload: its name): every replica clears its lookups */
  config: { name: 'floe_config', payload: z.string().min(1) },
  /** a cluster was registered, changed or deleted, or its lease changed hands (its id) */
  cluster: { name: 'floe_cluster', payload: z.uuid() },
  /**
   * a session was admitted or changed state; with its row as written where it fits (so that
   * watchers see each state, not only the latest when they read), else they read it
   */
  session: {
    name: 'floe_session',
    payload: json(
      z.object({
        id: z.uuid(),
        clusterId: z.uuid().nullable(),
        state: z.enum(SESSION_STATES),
        row: z
          .looseObject({
            id: z.uuid(),
            state: z.enum(SESSION_STATES),
            createdAt: z.iso.datetime({ offset: true }).transform((s) => new Date(s)),
            updatedAt: z.iso.datetime({ offset: true }).transform((s) => new Date(s)),
          })
          .optional(),
      }),
    ),
  },
} as const;

export type Channel = keyof typeof CHANNELS;
export type Payload<C extends Channel> = z.output<(typeof CHANNELS)[C]['payload']>;
type Listener<C extends Channel> = (payload: Payload<C>) => void;

/** what a bus that reconnects waits between attempts */
export interface BusBackoff {
  initialMs: number;
  maxMs: number;
}

export interface Bus {
  /** Calls `listener` with each notification on `channel`, from this replica and the others. */
  subscribe<C extends Channel>(channel: C, listener: Listener<C>): () => void;
  /**
   * Calls `listener` after the bus (re)connected: notifications sent while it was away are
   * lost, so what subscribers keep must be read again.
   */
  onResync(listener: () => void): () => void;
  /**
   * Sends a notification soon, outside any transaction (batched, asynchronous commit):
   * for changes already committed. Dropped while the bus is disconnected (subscribers
   * resync when it is back).
   */
  send<C extends Channel>(channel: C, payload: string): void;
  /** Whether notifications are being received now. */
  readonly connected: boolean;
  close(): Promise<void>;
}

/**
 * Sends a notification in `db`'s transaction (delivered at its commit, never after a
 * rollback). Most notifications come from triggers; this is for the others.
 */
export async function publish<C extends Channel>(db: Db | Tx, channel: C, payload: string) {
  await db.execute(sql`select pg_notify(${CHANNELS[channel].name}, ${payload})`);
}

// the bus of each database handle, for the writers of sessions, which are handed only the
// handle (transition(), admitLaunch()); a handle without a bus (a test's) notifies nothing
const buses = new WeakMap<Db, Bus>();

// NOTIFY's limit is 8000 bytes; a row beyond this is left for the listeners to read
const MAX_ROW_PAYLOAD = 7_000;

/** A session was admitted or changed state (committed), to `row`: tells every replica. */
export function sessionChanged(db: Db, row: SessionRow) {
  const bus = buses.get(db);
  if (!bus) return;
  const head = { id: row.id, clusterId: row.clusterId, state: row.state };
  const whole = JSON.stringify({ ...head, row });
  bus.send('session', whole.length <= MAX_ROW_PAYLOAD ? whole : JSON.stringify(head));
}

/** The bus on the database behind `db`: PostgreSQL's or PGlite's LISTEN. */
export async function openBus(
  db: Db,
  opts: { databaseUrl?: string; log: Logger; backoff?: BusBackoff },
): Promise<Bus> {
  const client = (db as unknown as { $client: unknown }).$client;
  let bus: Bus;
  if (client instanceof PGlite) bus = await PgliteBus.open(client, opts.log);
  else if (!opts.databaseUrl) throw new Error('a PostgreSQL bus needs the database URL');
  else bus = await PostgresBus.open(opts.databaseUrl, opts.log, opts.backoff);
  buses.set(db, bus);
  const close = bus.close.bind(bus);
  bus.close = async () => {
    if (buses.get(db) === bus) buses.delete(db);
    await close();
  };
  return bus;
}

// notifications sent within this long go out in one statement: at high rates, batches
const FLUSH_MS = 5;

/** how the bus's connections show in pg_stat_activity */
export const BUS_APPLICATION_NAME = 'floe-bus';

const byName = new Map<string, Channel>(
  Object.entries(CHANNELS).map(([key, { name }]) => [name, key as Channel]),
);

/** Subscribers and the dispatch of raw notifications to them; shared by both buses. */
abstract class Subscribers implements Bus {
  private readonly listeners = new Map<Channel, Set<(payload: never) => void>>();
  private readonly resyncs = new Set<() => void>();
  protected readonly log: Logger;
  abstract readonly connected: boolean;

  constructor(log: Logger) {
    this.log = log;
  }

  subscribe<C extends Channel>(channel: C, listener: Listener<C>): () => void {
    let set = this.listeners.get(channel);
    if (!set) {
      set = new Set();
      this.listeners.set(channel, set);
    }
    set.add(listener as (payload: never) => void);
    return () => set.delete(listener as (payload: never) => void);
  }

  onResync(listener: () => void): () => void {
    this.resyncs.add(listener);
    return () => this.resyncs.delete(listener);
  }

  protected dispatch(name: string, raw: string | undefined) {
    const channel = byName.get(name);
    if (!channel) return;
    const parsed = CHANNELS[channel].payload.safeParse(raw ?? '');
    if (!parsed.success) {
      this.log.warn({ channel: name, payload: raw }, 'a notification was not understood');
      return;
    }
    for (const listener of this.listeners.get(channel) ?? []) {
      try {
        (listener as Listener<typeof channel>)(parsed.data as never);
      } catch (err) {
        this.log.error({ err, channel: name }, 'a notification listener failed');
      }
    }
  }

  protected resync() {
    for (const listener of this.resyncs) {
      try {
        listener();
      } catch (err) {
        this.log.error({ err }, 'a resync listener failed');
      }
    }
  }

  abstract send<C extends Channel>(channel: C, payload: string): void;
  abstract close(): Promise<void>;
}

/**
 * One dedicated connection per process that LISTENs on every channel (not one from the
 * pool: a pooled connection is shared, and LISTEN is a session's). When it drops
 * (PostgreSQL restarted, the network failed), it is opened again with backoff, and
 * subscribers are told to resync.
 */
class PostgresBus extends Subscribers {
  private client: pg.Client | null = null;
  private closed = false;
  private retry: NodeJS.Timeout | null = null;
  private readonly url: string;
  private readonly backoff: BusBackoff;
  private failures = 0;
  /** notifications to send, by channel name */
  private outbox = new Map<string, string[]>();
  private flushing = false;

  private constructor(url: string, log: Logger, backoff: BusBackoff) {
    super(log);
    this.url = url;
    this.backoff = backoff;
  }

  static async open(url: string, log: Logger, backoff = { initialMs: 100, maxMs: 2_000 }) {
    const bus = new PostgresBus(url, log, backoff);
    await bus.connect(); // the first connection must work: a replica starts with its bus
    return bus;
  }

  get connected() {
    return this.client !== null;
  }

  private async connect() {
    // keepAlive: a connection whose peer vanished (a network partition) is noticed
    const client = new pg.Client({
      connectionString: this.url,
      keepAlive: true,
      application_name: BUS_APPLICATION_NAME,
    });
    client.on('notification', (n) => this.dispatch(n.channel, n.payload));
    const lost = (err?: Error) => {
      if (this.client !== client) return;
      this.client = null;
      client.end().catch(() => {});
      if (this.closed) return;
      this.log.warn({ err }, 'the notification connection was lost; reconnecting');
      this.schedule();
    };
    client.on('error', lost);
    client.on('end', () => lost());
    await client.connect();
    try {
      // what it sends needs no durable commit: a notification is lost with the connection
      await client.query('set synchronous_commit = off');
      for (const { name } of Object.values(CHANNELS)) await client.query(`listen ${name}`);
    } catch (err) {
      await client.end().catch(() => {});
      throw err;
    }
    if (this.closed) {
      await client.end().catch(() => {});
      return;
    }
    this.client = client;
    this.failures = 0;
  }

  private schedule() {
    const delay = Math.min(this.backoff.initialMs * 2 ** this.failures, this.backoff.maxMs);
    this.failures++;
    this.retry = setTimeout(() => {
      this.retry = null;
      this.connect().then(
        () => {
          if (this.client) this.resync();
        },
        (err) => {
          if (this.closed) return;
          this.log.warn({ err, attempt: this.failures }, 'the notification connection failed');
          this.schedule();
        },
      );
    }, delay);
    this.retry.unref();
  }

  send<C extends Channel>(channel: C, payload: string) {
    if (!this.client) return; // subscribers resync once it is back
    const name = CHANNELS[channel].name;
    const queued = this.outbox.get(name) ?? [];
    queued.push(payload);
    this.outbox.set(name, queued);
    if (!this.flushing) {
      this.flushing = true;
      setTimeout(() => void this.flush(), FLUSH_MS);
    }
  }

  /** Everything queued, one statement (one transaction, one turn of the queue's lock). */
  private async flush() {
    while (this.outbox.size > 0 && this.client) {
      const batch = this.outbox;
      this.outbox = new Map();
      const client = this.client;
      try {
        for (const [name, payloads] of batch) {
          await client.query('select pg_notify($1, p) from unnest($2::text[]) as p', [
            name,
            payloads,
          ]);
        }
      } catch (err) {
        this.log.warn({ err }, 'sending notifications failed');
      }
    }
    this.outbox.clear();
    this.flushing = false;
  }

  async close() {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => {});
  }
}

/** PGlite is one process: its own LISTEN reaches everything, and never disconnects. */
class PgliteBus extends Subscribers {
  private unlisten: (() => Promise<void>)[] = [];
  readonly connected = true;

  /** One process: handed to its subscribers directly, after the caller's turn. */
  send<C extends Channel>(channel: C, payload: string) {
    const name = CHANNELS[channel].name;
    setImmediate(() => this.dispatch(name, payload));
  }

  static async open(client: PGlite, log: Logger) {
    const bus = new PgliteBus(log);
    for (const { name } of Object.values(CHANNELS)) {
      bus.unlisten.push(await client.listen(name, (payload) => bus.dispatch(name, payload)));
    }
    return bus;
  }

  async close() {
    const unlisten = this.unlisten;
    this.unlisten = [];
    await Promise.all(unlisten.map((u) => u().catch(() => {})));
  }
}
