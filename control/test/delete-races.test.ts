// Deleting a tenant, a user or an app while launches race it: the delete takes the lock
// admission takes (the tenant's row), so a launch is either admitted before the delete
// (which then refuses, 409, where active sessions block it) or refused after it (404);
// never a 204 with sessions left running in a deleted tenant or for a deleted user.
import { and, eq, inArray, isNotNull } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionIsActive, sessions, tenants, users } from '../src/db/schema.ts';
import { Lookups } from '../src/lookups.ts';
import { admitLaunch } from '../src/sessions/admission.ts';
import {
  DATABASES,
  freshDatabase,
  seedTenant,
  startTestControlPlane,
  type TestControlPlane,
} from './harness.ts';

const ROUNDS = 6;
const LAUNCHES = 8;

describe.each(DATABASES)('deletes racing launches on %s', (kind) => {
  let t: TestControlPlane;

  beforeAll(async () => {
    t = await startTestControlPlane({
      ...(await freshDatabase(kind)),
      FLOE_LOCAL_MAX_SESSIONS: '200',
    });
  });
  afterAll(() => t?.close());

  /** LAUNCHES launches for `user` with `remove` sent amid them; the statuses of each */
  async function race(slug: string, user: string, remove: string) {
    const launch = () =>
      t.call('POST', `/v1/tenants/${slug}/sessions`, { body: { app: 'sleeper', user } });
    const launches = Array.from({ length: LAUNCHES / 2 }, launch);
    const deleted = t.call('DELETE', remove);
    launches.push(...Array.from({ length: LAUNCHES / 2 }, launch));
    const statuses = (await Promise.all(launches)).map((r) => r.status);
    return { deleted: (await deleted).status, statuses };
  }

  /** either the delete won (no launch admitted) or every launch did (the delete refused) */
  function expectOneWinner(deleted: number, statuses: number[]) {
    if (deleted === 204) expect(statuses.filter((s) => s === 201)).toEqual([]);
    else {
      expect(deleted).toBe(409);
      expect(statuses.filter((s) => s !== 201)).toEqual([]);
    }
  }

  it('a tenant: a 204 leaves no session admitted, a 409 refuses no launch', async () => {
    const outcomes = new Set<number>();
    for (let round = 0; round < ROUNDS; round++) {
      const slug = `t${round}`;
      await seedTenant(t, { slug });
      const { deleted, statuses } = await race(slug, `user@${slug}.test`, `/v1/tenants/${slug}`);
      outcomes.add(deleted);
      expectOneWinner(deleted, statuses);
    }
    // whatever the interleavings were: no active session of a deleted tenant
    const { db } = t.cp.database;
    const orphans = await db
      .select({ id: sessions.id })
      .from(sessions)
      .innerJoin(tenants, eq(tenants.id, sessions.tenantId))
      .where(and(isNotNull(tenants.deletedAt), sessionIsActive()));
    expect(orphans).toEqual([]);
  }, 120_000);

  it('a user: a 204 leaves no session admitted for them, a 409 refuses no launch', async () => {
    await seedTenant(t, { slug: 'people' });
    for (let round = 0; round < ROUNDS; round++) {
      const email = `u${round}@people.test`;
      const created = await t.call('POST', '/v1/tenants/people/users', { body: { email } });
      expect(created.status).toBe(201);
      const { deleted, statuses } = await race(
        'people',
        email,
        `/v1/tenants/people/users/${created.body.id}`,
      );
      expectOneWinner(deleted, statuses);
    }
    const { db } = t.cp.database;
    const orphans = await db
      .select({ id: sessions.id })
      .from(sessions)
      .innerJoin(users, eq(users.id, sessions.userId))
      .where(and(isNotNull(users.deletedAt), sessionIsActive()));
    expect(orphans).toEqual([]);
  }, 120_000);

  it('admission refuses a user or an app deleted after the launch read them (404)', async () => {
    const seeded = await seedTenant(t, { slug: 'stale' });
    const { db } = t.cp.database;
    const lookups = new Lookups(db, { ttlMs: 0 });
    const capacityOf = (id: string) => t.cp.supervisor.capacity(id);
    // what a launch read before the deletes
    const tenant = (await lookups.tenant('stale'))!;
    const app = (await lookups.app(tenant.id, 'sleeper'))!;
    const user = (await lookups.user(tenant.id, seeded.user.id))!;

    expect((await t.call('DELETE', '/v1/tenants/stale/apps/sleeper')).status).toBe(204);
    await expect(admitLaunch(db, lookups, capacityOf, { tenant, app, user })).rejects.toMatchObject(
      { status: 404, message: 'app not found' },
    );
    const other = await t.call('POST', '/v1/tenants/stale/apps', {
      body: { slug: 'other', name: 'Other', command: ['sleep', '300'] },
    });
    const otherApp = (await lookups.app(tenant.id, other.body.id))!;
    expect((await t.call('DELETE', `/v1/tenants/stale/users/${user.id}`)).status).toBe(204);
    await expect(
      admitLaunch(db, lookups, capacityOf, { tenant, app: otherApp, user }),
    ).rejects.toMatchObject({ status: 404, message: 'user not found' });
    const none = await db
      .select({ id: sessions.id })
      .from(sessions)
      .where(inArray(sessions.tenantId, [tenant.id]));
    expect(none).toEqual([]);
  });
});
