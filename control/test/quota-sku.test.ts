// Quotas made whole, on PGlite and on a real PostgreSQL server: GPUs per SKU (tenant and
// user) under concurrent launches, the 429 that names the quota, and GPU-hours of the month
// held on running sessions (a warning once at 90 %, stop or refuse at 100 %).
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quotaEvents } from '../src/db/schema.ts';
import { GPU_HOURS_STOP_REASON } from '../src/sessions/gpu-hours.ts';
import {
  DATABASES,
  freshDatabase,
  seedTenant,
  startTestControlPlane,
  type TestControlPlane,
} from './harness.ts';

const BURST = 60;

describe.each(DATABASES)('quotas made whole on %s', (kind) => {
  let t: TestControlPlane;

  beforeAll(async () => {
    // plenty of GPUs of two SKUs, so that only quotas refuse; the periodic sweep is kept out
    // of the way, the tests run it themselves (cp.enforceQuotas)
    t = await startTestControlPlane({
      ...(await freshDatabase(kind)),
      FLOE_LOCAL_MAX_SESSIONS: '500',
      FLOE_LOCAL_GPUS: 'l4:500,a100:500',
      FLOE_SWEEP_INTERVAL_MS: '3600000',
    });
  });
  afterAll(() => t?.close());

  const launch = (tenant: string, user: string, app = 'sleeper') =>
    t.call('POST', `/v1/tenants/${tenant}/sessions`, { body: { app, user } });

  async function burst(tenant: string, user: string) {
    const answers = await Promise.all(Array.from({ length: BURST }, () => launch(tenant, user)));
    return {
      admitted: answers.filter((a) => a.status === 201),
      refused: answers.filter((a) => a.status === 429),
    };
  }

  async function addApp(tenant: string, slug: string, gpus: { sku: string; count: number }) {
    const r = await t.call('POST', `/v1/tenants/${tenant}/apps`, {
      body: { slug, name: slug, command: ['sleep', '300'], resources: { gpus } },
    });
    expect(r.status).toBe(201);
  }

  async function activeGpus(tenantId: string, sku: string, userId?: string) {
    const rows = await t.cp.database.db.execute(
      sql`select coalesce(sum(gpu_count), 0)::int as n from sessions
          where tenant_id = ${tenantId} and gpu_sku = ${sku} and state not in ('stopped', 'failed')
          ${userId ? sql`and user_id = ${userId}` : sql``}`,
    );
    return (rows as unknown as { rows: { n: number }[] }).rows[0]!.n;
  }

  async function runningSession(tenant: string, id: string) {
    await expect
      .poll(async () => (await t.call('GET', `/v1/tenants/${tenant}/sessions/${id}`)).body.state, {
        timeout: 15_000,
      })
      .toBe('running');
  }

  /** pretends the session has been running `minutes` longer than it has */
  async function age(sessionId: string, minutes: number) {
    await t.cp.database.db.execute(
      sql`update session_events set at = at - make_interval(mins => ${minutes})
          where session_id = ${sessionId} and to_state = 'running'`,
    );
  }

  async function eventsOf(tenantId: string) {
    const rows = await t.cp.database.db.select().from(quotaEvents);
    return rows.filter((r) => r.tenantId === tenantId).map((r) => r.type);
  }

  async function counter(type: string) {
    const text = (await t.call('GET', '/metrics')).body as string;
    const line = text
      .split('\n')
      .find((l) => l.startsWith(`floe_quota_events_total{type="${type}"}`));
    return line ? Number(line.split(' ').pop()) : 0;
  }

  it(`admits exactly the tenant's l4 GPUs of ${BURST} concurrent launches, and other SKUs still`, async () => {
    const seeded = await seedTenant(t, {
      slug: 'sku-tenant',
      quotas: { maxGpusPerSku: { l4: 3 } } as never,
      app: { resources: { gpus: { sku: 'l4', count: 1 } } },
    });
    expect(seeded.tenant.quotas).toMatchObject({ maxGpusPerSku: { l4: 3 }, maxGpus: null });
    const { admitted, refused } = await burst('sku-tenant', 'user@sku-tenant.test');
    expect(admitted).toHaveLength(3);
    expect(refused).toHaveLength(BURST - 3);
    for (const r of refused) {
      expect(r.body.error).toEqual({
        code: 'quota_exceeded',
        quota: 'tenant.maxGpusPerSku',
        sku: 'l4',
        limit: 3,
        used: 3,
        message: 'quota tenant.maxGpusPerSku[l4] exceeded: the tenant allows 3 l4 GPUs (3 in use)',
      });
      expect(r.headers.get('retry-after')).toBe('30');
    }
    expect(await activeGpus(seeded.tenant.id, 'l4')).toBe(3);
    // an a100 app is not held back by the l4 limit
    await addApp('sku-tenant', 'big', { sku: 'a100', count: 2 });
    expect((await launch('sku-tenant', 'user@sku-tenant.test', 'big')).status).toBe(201);
  });

  it(`admits exactly the user's l4 GPUs of ${BURST} concurrent launches; other users go on`, async () => {
    const seeded = await seedTenant(t, {
      slug: 'sku-user',
      userLimits: { maxGpusPerSku: { l4: 4 } } as never,
      app: { resources: { gpus: { sku: 'l4', count: 2 } } },
    });
    expect(seeded.user.limits).toEqual({
      maxSessions: null,
      maxGpus: null,
      maxGpusPerSku: { l4: 4 },
    });
    const other = await t.call('POST', '/v1/tenants/sku-user/users', {
      body: { email: 'other@sku-user.test' },
    });
    expect(other.status).toBe(201);
    // the limited user's burst and the other user's launches race for the tenant's lock
    const [mine, theirs] = await Promise.all([
      burst('sku-user', 'user@sku-user.test'),
      Promise.all(Array.from({ length: 3 }, () => launch('sku-user', 'other@sku-user.test'))),
    ]);
    expect(mine.admitted).toHaveLength(2);
    expect(mine.refused).toHaveLength(BURST - 2);
    for (const r of mine.refused) {
      expect(r.body.error).toMatchObject({
        quota: 'user.maxGpusPerSku',
        sku: 'l4',
        limit: 4,
        used: 4,
      });
    }
    for (const r of theirs) expect(r.status).toBe(201);
    expect(await activeGpus(seeded.tenant.id, 'l4', seeded.user.id)).toBe(4);
    expect(await activeGpus(seeded.tenant.id, 'l4')).toBe(10);
  });

  it('warns once at 90 % of the GPU-hours; at 100 % with `refuse` running sessions go on', async () => {
    const seeded = await seedTenant(t, {
      slug: 'hours-refuse',
      quotas: { gpuHoursPerMonth: 1 },
      app: { resources: { gpus: { sku: 'l4', count: 1 } } },
    });
    expect(seeded.tenant.quotas.gpuHoursExceededAction).toBe('refuse');
    const first = await launch('hours-refuse', 'user@hours-refuse.test');
    expect(first.status).toBe(201);
    await runningSession('hours-refuse', first.body.id);
    await t.cp.enforceQuotas();
    expect(await eventsOf(seeded.tenant.id)).toEqual([]);

    await age(first.body.id, 55); // 0.92 GPU-hours of 1
    const warnedBefore = await counter('quota.warning');
    const [outcome] = (await t.cp.enforceQuotas()).filter((o) => o.tenantId === seeded.tenant.id);
    expect(outcome).toMatchObject({ recorded: ['quota.warning'], stopped: 0 });
    expect(outcome!.decision.level).toBe('warn');
    await t.cp.enforceQuotas();
    await t.cp.enforceQuotas();
    expect(await eventsOf(seeded.tenant.id)).toEqual(['quota.warning']);
    expect(await counter('quota.warning')).toBe(warnedBefore + 1);
    const [event] = await t.cp.database.db.select().from(quotaEvents);
    expect(event!.data).toMatchObject({
      quota: 'tenant.gpuHoursPerMonth',
      limitHours: 1,
      action: 'refuse',
    });

    await age(first.body.id, 10); // 1.09 GPU-hours of 1
    await t.cp.enforceQuotas();
    await t.cp.enforceQuotas();
    expect(await eventsOf(seeded.tenant.id)).toEqual(['quota.warning', 'quota.exceeded']);
    const listed = await t.call('GET', '/v1/tenants/hours-refuse/quota-events');
    expect(listed.status).toBe(200);
    expect(listed.body.items.map((e: { type: string }) => e.type)).toEqual([
      'quota.exceeded',
      'quota.warning',
    ]);
    expect(listed.body.items[0]).toMatchObject({
      quota: 'tenant.gpuHoursPerMonth',
      data: { limitHours: 1, action: 'refuse' },
    });
    expect(listed.body.items[0].data.usedHours).toBeGreaterThanOrEqual(65 / 60);
    const still = await t.call('GET', `/v1/tenants/hours-refuse/sessions/${first.body.id}`);
    expect(still.body.state).toBe('running');
    const refused = await launch('hours-refuse', 'user@hours-refuse.test');
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatchObject({
      code: 'quota_exceeded',
      quota: 'tenant.gpuHoursPerMonth',
      limit: 1,
    });
    expect(refused.body.error.used).toBeGreaterThanOrEqual(65 / 60);
    expect(refused.body.error.message).toMatch(
      /^quota tenant\.gpuHoursPerMonth exceeded: the tenant used 1\.1 of its 1 GPU-hours/,
    );
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('stops the tenant’s GPU sessions at 100 % when it chose `stop`', async () => {
    const seeded = await seedTenant(t, {
      slug: 'hours-stop',
      quotas: { gpuHoursPerMonth: 1 },
      app: { resources: { gpus: { sku: 'a100', count: 1 } } },
    });
    const patched = await t.call('PATCH', '/v1/tenants/hours-stop', {
      body: { quotas: { gpuHoursExceededAction: 'stop' } },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.quotas).toMatchObject({
      gpuHoursPerMonth: 1,
      gpuHoursExceededAction: 'stop',
    });
    await addApp('hours-stop', 'cpu', { sku: 'a100', count: 1 });
    const cpuApp = await t.call('PATCH', '/v1/tenants/hours-stop/apps/cpu', {
      body: { resources: { cpu: '1', memory: '1Gi', gpus: null } },
    });
    expect(cpuApp.status).toBe(200);
    const a = await launch('hours-stop', 'user@hours-stop.test');
    const b = await launch('hours-stop', 'user@hours-stop.test');
    const cpu = await launch('hours-stop', 'user@hours-stop.test', 'cpu');
    for (const s of [a, b, cpu]) {
      expect(s.status).toBe(201);
      await runningSession('hours-stop', s.body.id);
    }
    await age(a.body.id, 61);
    const [outcome] = (await t.cp.enforceQuotas()).filter((o) => o.tenantId === seeded.tenant.id);
    expect(outcome).toMatchObject({
      recorded: ['quota.warning', 'quota.exceeded'],
      stopped: 2,
      decision: { level: 'enforce', stopGpuSessions: true },
    });
    for (const s of [a, b]) {
      const row = await t.call('GET', `/v1/tenants/hours-stop/sessions/${s.body.id}`);
      expect(row.body.state).toMatch(/^stop/);
      // the stop's reason is in its event (the driver's own report of `stopped` follows)
      expect(row.body.events).toContainEqual(
        expect.objectContaining({ to: 'stopping', reason: GPU_HOURS_STOP_REASON }),
      );
    }
    // a session without GPUs is not the GPU-hours' business
    const cpuRow = await t.call('GET', `/v1/tenants/hours-stop/sessions/${cpu.body.id}`);
    expect(cpuRow.body.state).toBe('running');
    expect((await launch('hours-stop', 'user@hours-stop.test')).body.error.quota).toBe(
      'tenant.gpuHoursPerMonth',
    );
    expect((await launch('hours-stop', 'user@hours-stop.test', 'cpu')).status).toBe(201);
    // again: nothing more to stop, nothing more to record
    const [again] = (await t.cp.enforceQuotas()).filter((o) => o.tenantId === seeded.tenant.id);
    expect(again).toMatchObject({ recorded: [], stopped: 0 });
    expect(await eventsOf(seeded.tenant.id)).toEqual(['quota.warning', 'quota.exceeded']);
  });

  it('sets per-SKU limits through the API, refuses bad ones, and keeps tenants apart', async () => {
    const acme = await seedTenant(t, { slug: 'sku-acme' });
    const globex = await seedTenant(t, { slug: 'sku-globex', quotas: { maxGpus: 7 } });
    const key = async (tenant: string, role: string) => {
      const r = await t.call('POST', `/v1/tenants/${tenant}/api-keys`, {
        body: { name: 'ops', role, ...(role === 'member' && { user: `user@${tenant}.test` }) },
      });
      expect(r.status).toBe(201);
      return r.body.token as string;
    };
    const acmeAdmin = await key('sku-acme', 'tenant-admin');
    const acmeMember = await key('sku-acme', 'member');

    // the platform admin sets a tenant's quotas; a PATCH replaces the per-SKU map
    const set = await t.call('PATCH', '/v1/tenants/sku-acme', {
      body: { quotas: { maxGpusPerSku: { l4: 2, a100: 1 } } },
    });
    expect(set.status).toBe(200);
    expect(set.body.quotas.maxGpusPerSku).toEqual({ l4: 2, a100: 1 });
    const replaced = await t.call('PATCH', '/v1/tenants/sku-acme', {
      body: { quotas: { maxGpusPerSku: { a100: 3 } } },
    });
    expect(replaced.body.quotas.maxGpusPerSku).toEqual({ a100: 3 });
    const read = await t.call('GET', '/v1/tenants/sku-acme', { token: acmeAdmin });
    expect(read.body.quotas).toMatchObject({
      maxGpusPerSku: { a100: 3 },
      gpuHoursExceededAction: 'refuse',
    });

    // a tenant admin sets their users' per-SKU limits
    const userPath = `/v1/tenants/sku-acme/users/${acme.user.id}`;
    const limited = await t.call('PATCH', userPath, {
      token: acmeAdmin,
      body: { limits: { maxGpusPerSku: { l4: 1 } } },
    });
    expect(limited.status).toBe(200);
    expect(limited.body.limits).toEqual({
      maxSessions: null,
      maxGpus: null,
      maxGpusPerSku: { l4: 1 },
    });

    // bad input: 400 with the field named
    const bad: unknown[] = [
      { quotas: { maxGpusPerSku: { L4: 1 } } },
      { quotas: { maxGpusPerSku: { l4: -1 } } },
      { quotas: { maxGpusPerSku: { l4: 1.5 } } },
      { quotas: { maxGpusPerSku: { l4: null } } },
      { quotas: { maxGpusPerSku: [] } },
      {
        quotas: {
          maxGpusPerSku: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`s${i}`, 1])),
        },
      },
      { quotas: { gpuHoursExceededAction: 'explode' } },
    ];
    for (const body of bad) {
      const r = await t.call('PATCH', '/v1/tenants/sku-acme', { body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.code).toBe('invalid_request');
    }
    const badUser = await t.call('PATCH', userPath, {
      token: acmeAdmin,
      body: { limits: { maxGpusPerSku: { 'no spaces': 1 } } },
    });
    expect(badUser.status).toBe(400);

    // nobody but the platform admin sets a tenant's quotas, its own or another's
    const attempts: [string, string][] = [
      [acmeAdmin, '/v1/tenants/sku-acme'],
      [acmeMember, '/v1/tenants/sku-acme'],
      [acmeAdmin, '/v1/tenants/sku-globex'],
      [acmeAdmin, `/v1/tenants/${globex.tenant.id}`],
    ];
    for (const [token, path] of attempts) {
      const r = await t.call('PATCH', path, {
        token,
        body: { quotas: { maxGpusPerSku: { l4: 99 }, gpuHoursExceededAction: 'stop' } },
      });
      expect([403, 404], path).toContain(r.status);
    }
    // a tenant admin cannot set another tenant's users' limits, by either path
    for (const path of [
      `/v1/tenants/sku-globex/users/${globex.user.id}`,
      `/v1/tenants/sku-acme/users/${globex.user.id}`,
    ]) {
      const r = await t.call('PATCH', path, {
        token: acmeAdmin,
        body: { limits: { maxGpusPerSku: { l4: 99 } } },
      });
      expect(r.status, path).toBe(404);
    }
    // a member cannot change their own limits
    const own = await t.call('PATCH', userPath, {
      token: acmeMember,
      body: { limits: { maxGpusPerSku: { l4: 99 } } },
    });
    expect(own.status).toBe(403);
    // quota events: the tenant's admins read their own, nobody another tenant's
    expect(
      (await t.call('GET', '/v1/tenants/sku-acme/quota-events', { token: acmeAdmin })).status,
    ).toBe(200);
    expect(
      (await t.call('GET', '/v1/tenants/sku-acme/quota-events', { token: acmeMember })).status,
    ).toBe(403);
    for (const path of [
      '/v1/tenants/sku-globex/quota-events',
      '/v1/tenants/hours-refuse/quota-events',
    ]) {
      const r = await t.call('GET', path, { token: acmeAdmin });
      expect(r.status, path).toBe(404);
    }
    const backwards = await t.call(
      'GET',
      '/v1/tenants/sku-acme/quota-events?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z',
    );
    expect(backwards.status).toBe(400);
    const globexNow = await t.call('GET', '/v1/tenants/sku-globex');
    expect(globexNow.body.quotas).toMatchObject({
      maxGpus: 7,
      maxGpusPerSku: {},
      gpuHoursExceededAction: 'refuse',
    });
    const globexUser = await t.call('GET', `/v1/tenants/sku-globex/users/${globex.user.id}`);
    expect(globexUser.body.limits.maxGpusPerSku).toEqual({});
    const acmeUser = await t.call('GET', userPath);
    expect(acmeUser.body.limits.maxGpusPerSku).toEqual({ l4: 1 });
  });
});
