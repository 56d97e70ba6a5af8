// The notification bus (src/db/notify.ts) on PostgreSQL and PGlite: what a transaction sends
// arrives at its commit and never after a rollback; the triggers of migration 0013 notify
// configuration changes; a payload that is not understood is dropped; and on
// PostgreSQL a listening connection the server ends is reopened and subscribers resync, so
// that a session watcher is handed a change made while it was away.
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../src/db/connect.ts';
import { BUS_APPLICATION_NAME, type Bus, openBus, publish } from '../src/db/notify.ts';
import { createLogger } from '../src/log.ts';
import type { SessionRow } from '../src/sessions/admission.ts';
import { transition } from '../src/sessions/transition.ts';
import { SessionWatch } from '../src/sessions/watch.ts';
import { DATABASES, eventually, freshDatabase } from './harness.ts';

describe.each(DATABASES)('the notification bus on %s', (kind) => {
  let database: Database;
  let bus: Bus;
  let databaseUrl: string | undefined;
  const config: string[] = [];
  let resyncs = 0;

  beforeAll(async () => {
    const env = await freshDatabase(kind);
    databaseUrl = env.DATABASE_URL;
    database = await openDatabase({
      databaseUrl: env.DATABASE_URL,
      dataDir: join(env.FLOE_DATA_DIR as string, 'pgdata'),
    });
    bus = await openBus(database.db, {
      databaseUrl: env.DATABASE_URL,
      log: createLogger('silent'),
      backoff: { initialMs: 50, maxMs: 200 },
    });
    bus.subscribe('config', (table) => config.push(table));
    bus.onResync(() => resyncs++);
  });
  afterAll(async () => {
    await bus?.close();
    await database?.close();
  });

  it('delivers at commit, and nothing of a rolled-back transaction', async () => {
    await database.db
      .transaction(async (tx) => {
        await publish(tx, 'config', 'rolled-back');
        tx.rollback();
      })
      .catch(() => {});
    await database.db.transaction(async (tx) => {
      await publish(tx, 'config', 'committed');
      // not before the commit
      await new Promise((r) => setTimeout(r, 100));
      expect(config).not.toContain('committed');
    });
    await eventually(async () => config.includes('committed'));
    // notifications arrive in commit order: the rolled-back one would have come first
    expect(config).not.toContain('rolled-back');
  });

  it('hears configuration changes from the triggers, in the writing transaction', async () => {
    const sessions: unknown[] = [];
    const unsubscribe = bus.subscribe('session', (s) => sessions.push(s));
    config.length = 0;
    const id = '0190f3c1-0000-7000-8000-000000000001';
    await database.db.transaction(async (tx) => {
      await tx.execute(sql`insert into tenants (id, slug, name) values (${id}, 'acme', 'Acme')`);
      await tx.execute(sql`update tenants set name = 'ACME' where id = ${id}`);
    });
    await eventually(async () => config.includes('tenants'));
    await database.db
      .transaction(async (tx) => {
        await tx.execute(sql`update tenants set name = 'gone' where id = ${id}`);
        tx.rollback();
      })
      .catch(() => {});
    await publish(database.db, 'config', 'marker');
    await eventually(async () => config.includes('marker'));
    // one for the committed transaction (PostgreSQL folds equal ones), none for the rollback
    expect(config.filter((c) => c === 'tenants')).toHaveLength(1);
    unsubscribe();
    expect(sessions).toEqual([]);
  });

  it('drops a payload it does not understand, and goes on', async () => {
    const sessions: unknown[] = [];
    const unsubscribe = bus.subscribe('session', (s) => sessions.push(s));
    await publish(database.db, 'session', 'not json');
    await publish(database.db, 'session', JSON.stringify({ id: 'x', state: 'running' }));
    const good = {
      id: '0190f3c1-0000-7000-8000-000000000002',
      clusterId: null,
      state: 'running',
    };
    await publish(database.db, 'session', JSON.stringify(good));
    await eventually(async () => sessions.length > 0);
    expect(sessions).toEqual([good]);
    unsubscribe();
  });

  it.runIf(kind === 'postgres')(
    'reopens a listening connection the server ended, and tells subscribers to resync',
    async () => {
      expect(bus.connected).toBe(true);
      const before = resyncs;
      await database.db.execute(
        sql`select pg_terminate_backend(pid) from pg_stat_activity
            where datname = current_database() and application_name = ${BUS_APPLICATION_NAME}`,
      );
      await eventually(async () => resyncs > before);
      expect(bus.connected).toBe(true);
      config.length = 0;
      await publish(database.db, 'config', 'after');
      await eventually(async () => config.includes('after'));
    },
  );

  it.runIf(kind === 'postgres')(
    'hands a session watcher a change made while the bus was away, once it is back',
    async () => {
      // a bus of its own, slow to reconnect, so that the change surely falls in between
      const slow = await openBus(database.db, {
        databaseUrl,
        log: createLogger('silent'),
        backoff: { initialMs: 1_000, maxMs: 1_000 },
      });
      const watch = new SessionWatch(database.db, slow, createLogger('silent'));
      const tenant = '0190f3c1-0000-7000-8000-0000000000a1';
      const user = '0190f3c1-0000-7000-8000-0000000000a2';
      const app = '0190f3c1-0000-7000-8000-0000000000a3';
      const id = '0190f3c1-0000-7000-8000-0000000000a4';
      await database.db.execute(sql`
        insert into tenants (id, slug, name) values (${tenant}, 'watched', 'Watched');
      `);
      await database.db.execute(
        sql`insert into users (id, tenant_id, email, role) values (${user}, ${tenant}, 'u@w.test', 'member')`,
      );
      await database.db.execute(
        sql`insert into apps (id, tenant_id, slug, name, cpu, memory) values (${app}, ${tenant}, 'a', 'A', '1', '1Gi')`,
      );
      await database.db.execute(
        sql`insert into sessions (id, tenant_id, user_id, app_id, state) values (${id}, ${tenant}, ${user}, ${app}, 'placed')`,
      );
      const seen: SessionRow['state'][] = [];
      watch.watchSession(id, (row) => seen.push(row.state));
      // transitions notify after their commit (sessionChanged), on this handle's bus: `slow`
      await transition(database.db, id, 'starting');
      await eventually(async () => seen.includes('starting'));

      await database.db.execute(
        sql`select pg_terminate_backend(pid) from pg_stat_activity
            where datname = current_database() and application_name = ${BUS_APPLICATION_NAME}`,
      );
      await eventually(async () => !slow.connected);
      // while no connection listens: this notification reaches nobody
      await transition(database.db, id, 'running');
      await eventually(async () => slow.connected);
      await eventually(async () => seen.includes('running'));
      watch.close();
      await slow.close();
    },
  );
});
