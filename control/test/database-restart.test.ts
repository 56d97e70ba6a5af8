// The control plane rides out a PostgreSQL restart: requests meanwhile get a 503 with
// Retry-After (never a 500, never a dead process), it serves again once PostgreSQL is back,
// and what a driver reported while the database was down is recorded afterwards.
// On a PostgreSQL server of its own (not the run's shared one), since it is stopped.
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { type Postgres, startPostgres } from '@floe/testbed';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  eventually,
  processesOf,
  seedTenant,
  startTestControlPlane,
  type TestControlPlane,
} from './harness.ts';

describe('a PostgreSQL restart under load', () => {
  let server: Postgres;
  let t: TestControlPlane;
  const base = '/v1/tenants/lab/sessions';

  beforeAll(async () => {
    server = await startPostgres({ maxConnections: 100 });
    const dataDir = mkdtempSync(join(inject('testbed').tempRoot, 'cp-'));
    t = await startTestControlPlane({ DATABASE_URL: server.url, FLOE_DATA_DIR: dataDir });
    await seedTenant(t, { slug: 'lab' });
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    server?.stop();
  });

  it('answers 503 with Retry-After while PostgreSQL is down, then serves again; the supervisor records what happened meanwhile', async () => {
    const launched = await t.call('POST', base, {
      body: { app: 'sleeper', user: 'user@lab.test' },
    });
    expect(launched.status).toBe(201);
    const id = launched.body.id as string;
    await eventually(async () => (await t.call('GET', `${base}/${id}`)).body.state === 'running');
    const pids = await eventually(async () => {
      const p = processesOf(id);
      return p.length > 0 && p;
    });

    // 30 clients asking all the time; every connection of the pool is in use or idle in it
    const statuses = new Map<number, number>();
    const bodies: unknown[] = [];
    let load = true;
    const client = async () => {
      while (load) {
        const r = await t.call('GET', base);
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        if (r.status === 503)
          bodies.push({ body: r.body, retryAfter: r.headers.get('retry-after') });
        if (r.status === 503) await new Promise((res) => setTimeout(res, 20));
      }
    };
    const clients = Array.from({ length: 30 }, client);
    await new Promise((r) => setTimeout(r, 300));

    server.pause(); // pg_ctl stop -m fast: every connection is terminated
    // the app ends while the database is down: its driver reports it now
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 1_000));
    const down = await t.call('GET', base);
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).toBe('2');
    expect(down.body.error.code).toBe('database_unavailable');
    expect((await t.call('GET', '/healthz', { token: null })).status).toBe(503);
    server.resume();

    await eventually(async () => (await t.call('GET', base)).status === 200, 20_000);
    await new Promise((r) => setTimeout(r, 300));
    load = false;
    await Promise.all(clients);

    // only 200s and 503s, many of both
    expect([...statuses.keys()].sort()).toEqual([200, 503]);
    expect(bodies[0]).toMatchObject({
      body: { error: { code: 'database_unavailable', message: expect.any(String) } },
      retryAfter: '2',
    });
    // the session's end, reported while PostgreSQL was down, is recorded now
    const ended = await eventually(async () => {
      const s = (await t.call('GET', `${base}/${id}`)).body;
      return (s.state === 'failed' || s.state === 'stopped') && s;
    }, 20_000);
    expect(ended.events.at(-1).to).toBe(ended.state);
    // and the control plane still launches
    const again = await t.call('POST', base, { body: { app: 'sleeper', user: 'user@lab.test' } });
    expect(again.status).toBe(201);
    await eventually(
      async () => (await t.call('GET', `${base}/${again.body.id}`)).body.state === 'running',
    );
  }, 120_000);
});
