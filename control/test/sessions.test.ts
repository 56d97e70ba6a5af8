// Session lifecycle with the local driver (real processes), usage derived from events,
// idempotent launches, pagination, and reconciliation across a control-plane restart.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive } from '@floe/testbed';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DATABASES,
  eventually,
  freshDatabase,
  processesOf,
  seedTenant,
  startTestControlPlane,
  type TestControlPlane,
} from './harness.ts';

describe.each(DATABASES)('sessions on %s', (kind) => {
  let t: TestControlPlane;
  let env: Record<string, string>;
  const base = '/v1/tenants/lab/sessions';

  const session = async (id: string) => (await t.call('GET', `${base}/${id}`)).body;
  const launch = async (app: string, headers?: Record<string, string>) =>
    t.call('POST', base, { body: { app, user: 'user@lab.test' }, headers });
  const until = (id: string, state: string) =>
    eventually(async () => {
      const s = await session(id);
      return s.state === state && s;
    });

  /** how far the session loop's clock is ahead of the real one */
  let skewMs = 0;

  beforeAll(async () => {
    env = await freshDatabase(kind);
    t = await startTestControlPlane(env, { now: () => new Date(Date.now() + skewMs) });
    await seedTenant(t, { slug: 'lab' });
    const apps = [
      { slug: 'forker', name: 'Forker', command: ['sh', '-c', 'sleep 300 & sleep 300 & wait'] },
      { slug: 'crasher', name: 'Crasher', command: ['sh', '-c', 'sleep 0.3; exit 3'] },
      { slug: 'quitter', name: 'Quitter', command: ['sh', '-c', 'echo bye; exit 0'] },
      { slug: 'missing', name: 'Missing', command: ['/nonexistent/floe-app'] },
      { slug: 'ignorer', name: 'Ignorer', command: ['sh', '-c', 'trap "" TERM; sleep 300 & wait'] },
      { slug: 'remote', name: 'Remote', image: 'floe/desktop:1' },
    ];
    for (const body of apps) {
      expect((await t.call('POST', '/v1/tenants/lab/apps', { body })).status).toBe(201);
    }
  });
  afterAll(() => t?.close());

  it('runs the app as a process group, and stopping kills all of it', async () => {
    const r = await launch('forker');
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ state: 'placed', clusterId: t.cp.localClusterId });
    expect(r.headers.get('location')).toBe(`${base}/${r.body.id}`);
    await until(r.body.id, 'running');
    const pids = await eventually(async () => {
      const p = processesOf(r.body.id);
      return p.length >= 3 && p; // sh and its two sleeps
    });
    const stop = await t.call('DELETE', `${base}/${r.body.id}`);
    expect(stop.status).toBe(202);
    expect(stop.body.state).toBe('stopping');
    const stopped = await until(r.body.id, 'stopped');
    expect(pids.filter(isAlive)).toEqual([]);
    // an app without a streamer runs as soon as it is spawned: the sync loop records what
    // it observes, so it may go from placed to running without a starting in between
    expect(
      stopped.events.map((e: { to: string }) => e.to).filter((to: string) => to !== 'starting'),
    ).toEqual(['requested', 'placed', 'running', 'stopping', 'stopped']);
    // stopping again is a no-op
    const again = await t.call('DELETE', `${base}/${r.body.id}`);
    expect(again.status).toBe(200);
    expect(again.body.state).toBe('stopped');
  });

  it('kills an app that ignores SIGTERM after the grace period', async () => {
    const r = await launch('ignorer');
    await until(r.body.id, 'running');
    await eventually(async () => processesOf(r.body.id).length >= 2);
    await t.call('DELETE', `${base}/${r.body.id}`);
    await eventually(async () => (await session(r.body.id)).state === 'stopped', 15_000);
    expect(processesOf(r.body.id)).toEqual([]);
  }, 20_000);

  it('stops a session that outlived its app’s maxLifetimeSeconds', async () => {
    await t.call('POST', '/v1/tenants/lab/apps', {
      body: { slug: 'brief', name: 'Brief', command: ['sleep', '300'], maxLifetimeSeconds: 3600 },
    });
    const brief = await launch('brief');
    const other = await launch('forker');
    await until(brief.body.id, 'running');
    await until(other.body.id, 'running');
    // the lifetime counts from running: a second before it ends, nothing changes
    const supervisor = t.cp.supervisor;
    skewMs = 3_599_000;
    await supervisor.resync();
    await supervisor.settled();
    expect((await session(brief.body.id)).state).toBe('running');
    skewMs = 3_601_000;
    await supervisor.resync();
    const stopped = await until(brief.body.id, 'stopped');
    skewMs = 0;
    expect(stopped.events.at(-2)).toMatchObject({
      to: 'stopping',
      reason: 'maximum lifetime reached',
    });
    expect((await session(other.body.id)).state).toBe('running');
    await t.call('DELETE', `${base}/${other.body.id}`);
    await until(other.body.id, 'stopped');
  });

  it('marks a crashed app failed with its exit code', async () => {
    const r = await launch('crasher');
    const failed = await until(r.body.id, 'failed');
    expect(failed).toMatchObject({ exitCode: 3, reason: 'the app exited with code 3' });
  });

  it('marks an app that exits cleanly stopped, and one that cannot start failed', async () => {
    const quit = await launch('quitter');
    expect(await until(quit.body.id, 'stopped')).toMatchObject({
      exitCode: 0,
      reason: 'the app exited',
    });
    const log = readFileSync(
      join(env.FLOE_DATA_DIR as string, 'sessions', `${quit.body.id}.log`),
      'utf8',
    );
    expect(log).toBe('bye\n');
    const missing = await launch('missing');
    const failed = await until(missing.body.id, 'failed');
    expect(failed.reason).toMatch(/cannot start "\/nonexistent\/floe-app": ENOENT/);
  });

  it('refuses an app no cluster can run with 422', async () => {
    const r = await launch('remote'); // image only; no Kubernetes cluster is registered
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe('unplaceable');
  });

  it('honours Idempotency-Key: a retry returns the first session', async () => {
    const headers = { 'Idempotency-Key': 'launch-once-1' };
    const answers = await Promise.all([1, 2, 3, 4, 5].map(() => launch('forker', headers)));
    const created = answers.filter((a) => a.status === 201);
    expect(created).toHaveLength(1);
    for (const a of answers) expect(a.body.id).toBe(created[0]!.body.id);
    expect(answers.filter((a) => a.headers.get('idempotent-replayed') === 'true')).toHaveLength(4);
    const other = await launch('crasher', headers);
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe('idempotency_key_reused');
    const bad = await launch('forker', { 'Idempotency-Key': 'x'.repeat(300) });
    expect(bad.status).toBe(400);
    await t.call('DELETE', `${base}/${created[0]!.body.id}`);
    await until(created[0]!.body.id, 'stopped');
  });

  it('lists with filters and cursor pagination', async () => {
    const all = await t.call('GET', `${base}?limit=500`);
    const total = all.body.items.length;
    expect(total).toBeGreaterThanOrEqual(6);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { items: { id: string }[]; nextCursor: string | null } } = await t.call(
        'GET',
        `${base}?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.items.map((s) => s.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(all.body.items.map((s: { id: string }) => s.id));
    expect(new Set(seen).size).toBe(total);
    const failed = await t.call('GET', `${base}?state=failed`);
    expect(failed.body.items.length).toBeGreaterThanOrEqual(2);
    expect(failed.body.items.every((s: { state: string }) => s.state === 'failed')).toBe(true);
    const crasher = (await t.call('GET', '/v1/tenants/lab/apps/crasher')).body.id;
    const byApp = await t.call('GET', `${base}?app=${crasher}`);
    expect(byApp.body.items.map((s: { appId: string }) => s.appId)).toEqual([crasher]);
  });

  it('derives usage from the events: running time per user and app', async () => {
    await t.call('POST', '/v1/tenants/lab/apps', {
      body: { slug: 'meter', name: 'Meter', command: ['sleep', '300'] },
    });
    const r = await launch('meter');
    await until(r.body.id, 'running');
    await new Promise((res) => setTimeout(res, 1200));
    await t.call('DELETE', `${base}/${r.body.id}`);
    const done = await until(r.body.id, 'stopped');
    const at = (to: string) =>
      Date.parse(done.events.find((e: { to: string }) => e.to === to).at) / 1000;
    const billed = at('stopping') - at('running');
    const from = r.body.createdAt;
    const usage = await t.call('GET', `/v1/tenants/lab/usage?from=${from}`);
    const row = usage.body.items.find((i: { app: string }) => i.app === 'meter');
    expect(row).toMatchObject({
      email: 'user@lab.test',
      app: 'meter',
      appName: 'Meter',
      sessions: 1,
      gpuSeconds: 0,
    });
    // the API shows times in milliseconds; PostgreSQL counts microseconds
    expect(Math.abs(row.sessionSeconds - billed)).toBeLessThan(0.002);
    expect(row.sessionSeconds).toBeGreaterThan(1);
    // a window that ends before the session ran counts nothing
    const hourBefore = new Date(Date.parse(from) - 3_600_000).toISOString();
    const before = await t.call('GET', `/v1/tenants/lab/usage?from=${hourBefore}&to=${from}`);
    expect(before.status).toBe(200);
    expect(before.body.items.find((i: { app: string }) => i.app === 'meter')).toBeUndefined();
  });

  it('reconciles after a restart: adopts live apps, fails vanished ones, never double-counts', async () => {
    const survivor = await launch('forker');
    const victim = await launch('forker');
    await until(survivor.body.id, 'running');
    await until(victim.body.id, 'running');
    const victimPids = await eventually(async () => {
      const p = processesOf(victim.body.id);
      return p.length >= 3 && p;
    });
    await t.close({ keepSessions: true });
    for (const pid of victimPids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already: the sandbox's PID namespace ends with its first process
      }
    }
    await eventually(async () => victimPids.every((p) => !isAlive(p)));

    t = await startTestControlPlane(env, { now: () => new Date(Date.now() + skewMs) });
    expect(await session(survivor.body.id)).toMatchObject({ state: 'running' });
    const failed = await session(victim.body.id);
    expect(failed.state).toBe('failed');
    expect(failed.reason).toMatch(/ended while the control plane was down/);
    expect(processesOf(survivor.body.id).length).toBeGreaterThanOrEqual(3);

    // the adopted session stops normally, and is billed once, from running to stopping
    await t.call('DELETE', `${base}/${survivor.body.id}`);
    const done = await until(survivor.body.id, 'stopped');
    expect(processesOf(survivor.body.id)).toEqual([]);
    const running = done.events.filter((e: { to: string }) => e.to === 'running');
    expect(running).toHaveLength(1);
    const from = new Date(Date.parse(survivor.body.createdAt) - 1).toISOString();
    const to = new Date(Date.parse(done.updatedAt) + 1).toISOString();
    const usage = await t.call('GET', `/v1/tenants/lab/usage?from=${from}&to=${to}`);
    const billed = (e: string) =>
      Date.parse(done.events.find((x: { to: string }) => x.to === e).at);
    const forker = usage.body.items.find((i: { app: string }) => i.app === 'forker');
    const victimDone = await session(victim.body.id);
    const victimBilled =
      (Date.parse(victimDone.events.at(-1).at) -
        Date.parse(victimDone.events.find((x: { to: string }) => x.to === 'running').at)) /
      1000;
    expect(forker.sessionSeconds).toBeCloseTo(
      (billed('stopping') - billed('running')) / 1000 + victimBilled,
      2,
    );
  }, 30_000);
});
