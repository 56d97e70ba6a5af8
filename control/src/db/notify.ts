import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Db, Tx } from './connect.ts';
import { SESSION_STATES } from './schema.ts';

/**
 * The notifications the control-plane replicas exchange through PostgreSQL's LISTEN/NOTIFY.
 * Triggers send them (drizzle/0013_replicas.sql) in the writing transaction, so a rolled-back
 * change notifies nothing; payloads carry ids only (NOTIFY allows under 8000 bytes) and
 * listeners re-read the rows.
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
  /** a session was admitted or changed state */
  session: {
    name: 'floe_session',
    payload: json(
      z.object({ id: z.uuid(), clusterId: z.uuid().nullable(), state: z.enum(SESSION_STATES) }),
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

/** The bus on the database behind `db`: PostgreSQL's or PGlite's LISTEN. */
export function openBus(
  db: Db,
  opts: { databaseUrl?: string; log: Logger; backoff?: BusBackoff },
): Promise<Bus> {
  const client = (db as unknown as { $client: unknown }).$client;
  if (client instanceof PGlite) return PgliteBus.open(client, opts.log);
  if (!opts.databaseUrl) throw new Error('a PostgreSQL bus needs the database URL');
  return PostgresBus.open(opts.databaseUrl, opts.log, opts.backoff);
}

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
    const client = new pg.Client({ connectionString: this.url, keepAlive: true });
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
