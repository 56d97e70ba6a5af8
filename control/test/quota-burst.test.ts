// 200 concurrent launches against small quotas: exactly the quota is admitted, the rest
// get 429 naming it; on PGlite and on a real PostgreSQL server.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DATABASES,
  freshDatabase,
  seedTenant,
  startTestControlPlane,
  type TestControlPlane,
} from './harness.ts';

const BURST = 200;

async function burst(t: TestControlPlane, tenant: string, body: Record<string, unknown>) {
  const answers = await Promise.all(
    Array.from({ length: BURST }, () => t.call('POST', `/v1/tenants/${tenant}/sessions`, { body })),
  );
  const admitted = answers.filter((a) => a.status === 201);
  const refused = answers.filter((a) => a.status === 429);
  return { answers, admitted, refused };
}

async function activeCount(t: TestControlPlane, tenant: string) {
  const list = await t.call('GET', `/v1/tenants/${tenant}/sessions?state=active&limit=500`);
  return list.body.items.length as number;
}

describe.each(DATABASES)('quotas under a burst of %s launches', (kind) => {
  let t: TestControlPlane;

  beforeAll(async () => {
    // the local runner offers plenty of GPUs and sessions, so only quotas can refuse
    t = await startTestControlPlane({
      ...(await freshDatabase(kind)),
      FLOE_LOCAL_MAX_SESSIONS: '500',
      FLOE_LOCAL_GPUS: 'l4:500',
    });
  });
  afterAll(() => t?.close());

  it(`admits exactly maxSessions: 5 of ${BURST}`, async () => {
    await seedTenant(t, { slug: 'burst-tenant', quotas: { maxSessions: 5 } });
    const { admitted, refused } = await burst(t, 'burst-tenant', {
      app: 'sleeper',
      user: 'user@burst-tenant.test',
    });
    expect(admitted).toHaveLength(5);
    expect(refused).toHaveLength(BURST - 5);
    for (const r of refused) {
      expect(r.body.error).toMatchObject({ code: 'quota_exceeded', quota: 'tenant.maxSessions' });
    }
    expect(await activeCount(t, 'burst-tenant')).toBe(5);
  });

  it(`admits exactly the user's maxSessions: 3 of ${BURST}`, async () => {
    await seedTenant(t, { slug: 'burst-user', userLimits: { maxSessions: 3 } });
    const { admitted, refused } = await burst(t, 'burst-user', {
      app: 'sleeper',
      user: 'user@burst-user.test',
    });
    expect(admitted).toHaveLength(3);
    expect(refused).toHaveLength(BURST - 3);
    for (const r of refused) expect(r.body.error.quota).toBe('user.maxSessions');
    expect(await activeCount(t, 'burst-user')).toBe(3);
  });

  it(`admits exactly maxGpus: 4 worth of 2-GPU sessions of ${BURST}`, async () => {
    await seedTenant(t, {
      slug: 'burst-gpu',
      quotas: { maxGpus: 4 },
      app: { resources: { gpus: { sku: 'l4', count: 2 } } },
    });
    const { admitted, refused } = await burst(t, 'burst-gpu', {
      app: 'sleeper',
      user: 'user@burst-gpu.test',
    });
    expect(admitted).toHaveLength(2);
    expect(refused).toHaveLength(BURST - 2);
    for (const r of refused) expect(r.body.error.quota).toBe('tenant.maxGpus');
    for (const a of admitted) expect(a.body.gpus).toEqual({ sku: 'l4', count: 2 });
  });

  it(`admits exactly the user's maxGpus: 3 of ${BURST} 1-GPU launches`, async () => {
    await seedTenant(t, {
      slug: 'burst-user-gpu',
      userLimits: { maxGpus: 3 },
      app: { resources: { gpus: { sku: 'l4', count: 1 } } },
    });
    const { admitted, refused } = await burst(t, 'burst-user-gpu', {
      app: 'sleeper',
      user: 'user@burst-user-gpu.test',
    });
    expect(admitted).toHaveLength(3);
    expect(refused).toHaveLength(BURST - 3);
    for (const r of refused) expect(r.body.error.quota).toBe('user.maxGpus');
  });

  it('refuses GPU launches once the month’s GPU-hours are used, counting from the events', async () => {
    await seedTenant(t, {
      slug: 'gpu-hours',
      quotas: { gpuHoursPerMonth: 3 },
      app: { resources: { gpus: { sku: 'l4', count: 2 } } },
    });
    const launch = () =>
      t.call('POST', '/v1/tenants/gpu-hours/sessions', {
        body: { app: 'sleeper', user: 'user@gpu-hours.test' },
      });
    const first = await launch();
    expect(first.status).toBe(201);
    await expect
      .poll(
        async () =>
          (await t.call('GET', `/v1/tenants/gpu-hours/sessions/${first.body.id}`)).body.state,
      )
      .toBe('running');
    // pretend it has been running for 90 minutes: 2 GPUs × 1.5 h = 3 GPU-hours
    await t.cp.database.db.execute(
      sql`update session_events set at = at - interval '90 minutes'
          where session_id = ${first.body.id} and to_state = 'running'`,
    );
    const refused = await launch();
    expect(refused.status).toBe(429);
    expect(refused.body.error.quota).toBe('tenant.gpuHoursPerMonth');
    const usage = await t.call('GET', '/v1/tenants/gpu-hours/usage');
    expect(usage.body.totals.gpuSeconds).toBeGreaterThanOrEqual(2 * 5400);
    expect(usage.body.totals.gpuSeconds).toBeLessThan(2 * 5400 + 60);
    expect(usage.body.items[0]).toMatchObject({ gpuSku: 'l4', sessions: 1 });
  });

  it('frees quota when a session stops', async () => {
    await seedTenant(t, { slug: 'burst-free', quotas: { maxSessions: 1 } });
    const launch = () =>
      t.call('POST', '/v1/tenants/burst-free/sessions', {
        body: { app: 'sleeper', user: 'user@burst-free.test' },
      });
    const first = await launch();
    expect(first.status).toBe(201);
    expect((await launch()).status).toBe(429);
    const stop = await t.call('DELETE', `/v1/tenants/burst-free/sessions/${first.body.id}`);
    expect(stop.status).toBe(202);
    // the slot is held until the app has really stopped
    await expect
      .poll(async () => (await launch()).status, { timeout: 10_000, interval: 100 })
      .toBe(201);
  });
});
