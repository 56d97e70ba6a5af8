// Sharing a session (issue 19): grants to a user of the tenant or as a link, listed and
// revoked by the owner or a tenant admin, audited, handed to the gateway beside the session
// while live; another tenant's (or another member's) session, user or grant is not found.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DATABASES,
  eventually,
  freshDatabase,
  seedTenant,
  startTestControlPlane,
  type TestControlPlane,
} from './harness.ts';

describe.each(DATABASES)('session grants on %s', (kind) => {
  let t: TestControlPlane;
  let owner: string;
  let other: string;
  let acmeAdmin: string;
  let globexAdmin: string;
  let gateway: string;
  let sessionId: string;
  let ownerId: string;
  let bobId: string;
  const base = '/v1/tenants/acme/sessions';

  async function key(tenant: string | null, body: Record<string, unknown>) {
    const path = tenant ? `/v1/tenants/${tenant}/api-keys` : '/v1/api-keys';
    const r = await t.call('POST', path, { body });
    expect(r.status).toBe(201);
    return r.body.token as string;
  }

  beforeAll(async () => {
    t = await startTestControlPlane(await freshDatabase(kind));
    const acme = await seedTenant(t, { slug: 'acme' });
    await seedTenant(t, { slug: 'globex' });
    ownerId = acme.user.id;
    const bob = await t.call('POST', '/v1/tenants/acme/users', {
      body: { email: 'bob@acme.test', role: 'member' },
    });
    bobId = bob.body.id;
    owner = await key('acme', { name: 'ada', role: 'member', user: 'user@acme.test' });
    other = await key('acme', { name: 'bob', role: 'member', user: 'bob@acme.test' });
    acmeAdmin = await key('acme', { name: 'ops', role: 'tenant-admin' });
    globexAdmin = await key('globex', { name: 'ops', role: 'tenant-admin' });
    gateway = await key(null, { name: 'gw', role: 'gateway' });
    const launched = await t.call('POST', base, { body: { app: 'sleeper' }, token: owner });
    expect(launched.status).toBe(201);
    sessionId = launched.body.id;
    await eventually(
      async () => (await t.call('GET', `${base}/${sessionId}`)).body.state === 'running',
    );
  });
  afterAll(() => t?.close());

  const grants = () => `${base}/${sessionId}/grants`;
  const gatewayView = async () =>
    (await t.call('GET', `/v1/gateway/sessions/${sessionId}`, { token: gateway })).body;

  it('shares with a user of the tenant; the gateway sees the live grant; sharing again replaces it', async () => {
    const r = await t.call('POST', grants(), {
      body: { kind: 'user', user: 'bob@acme.test', role: 'viewer' },
      token: owner,
    });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({
      kind: 'user',
      user: { id: bobId, email: 'bob@acme.test' },
      role: 'viewer',
      expiresAt: null,
      revokedAt: null,
    });
    expect((await gatewayView()).grants).toEqual([
      { id: r.body.id, kind: 'user', userId: bobId, role: 'viewer', expiresAt: null },
    ]);
    const again = await t.call('POST', grants(), {
      body: { kind: 'user', user: bobId, role: 'control' },
      token: owner,
    });
    expect(again.status).toBe(201);
    const live = (await gatewayView()).grants;
    expect(live).toEqual([expect.objectContaining({ id: again.body.id, role: 'control' })]);
    const list = await t.call('GET', grants(), { token: owner });
    expect(list.body.map((g: { id: string }) => g.id)).toEqual([again.body.id, r.body.id]);
    expect(list.body[1].revokedAt).not.toBeNull();
  });

  it('makes links that expire, and revokes them (audited); a revoked grant is no longer handed out', async () => {
    const r = await t.call('POST', grants(), {
      body: { kind: 'link', role: 'viewer', expiresInSeconds: 600 },
      token: owner,
    });
    expect(r.status).toBe(201);
    expect(r.body.user).toBeNull();
    expect(Date.parse(r.body.expiresAt) - Date.now()).toBeGreaterThan(590_000);
    expect((await gatewayView()).grants.map((g: { id: string }) => g.id)).toContain(r.body.id);
    const revoked = await t.call('DELETE', `${grants()}/${r.body.id}`, { token: acmeAdmin });
    expect(revoked.status).toBe(200);
    expect(revoked.body.revokedAt).not.toBeNull();
    expect((await gatewayView()).grants.map((g: { id: string }) => g.id)).not.toContain(r.body.id);
    // revoking again changes nothing
    const twice = await t.call('DELETE', `${grants()}/${r.body.id}`, { token: owner });
    expect(twice.status).toBe(200);
    const log = await t.call('GET', `/v1/tenants/acme/audit-log?targetId=${sessionId}`, {
      token: acmeAdmin,
    });
    const actions = log.body.items
      .filter((e: { target: { id: string } }) => e.target.id === sessionId)
      .map((e: { action: string }) => e.action);
    expect(actions.filter((a: string) => a === 'session.unshare')).toHaveLength(1);
    expect(actions).toContain('session.share');
  });

  it('records a join the gateway reports', async () => {
    const r = await t.call('POST', `/v1/gateway/sessions/${sessionId}/joins`, {
      body: { userId: bobId, role: 'viewer', grantId: null },
      token: gateway,
    });
    expect(r.status).toBe(204);
    const log = await t.call('GET', `/v1/tenants/acme/audit-log?targetId=${sessionId}`, {
      token: acmeAdmin,
    });
    expect(log.body.items.map((e: { action: string }) => e.action)).toContain('session.join');
    // only gateways report joins
    const member = await t.call('POST', `/v1/gateway/sessions/${sessionId}/joins`, {
      body: { userId: bobId, role: 'control', grantId: null },
      token: other,
    });
    expect(member.status).toBe(403);
  });

  it('records what the owner did to a viewer, and only the owner', async () => {
    const path = `/v1/gateway/sessions/${sessionId}/viewer-actions`;
    const done = await t.call('POST', path, {
      body: { action: 'remove', by: ownerId, viewer: bobId },
      token: gateway,
    });
    expect(done.status).toBe(204);
    const log = await t.call('GET', `/v1/tenants/acme/audit-log?targetId=${sessionId}`, {
      token: acmeAdmin,
    });
    expect(log.body.items.map((e: { action: string }) => e.action)).toContain('session.remove');
    const notOwner = await t.call('POST', path, {
      body: { action: 'give-control', by: bobId, viewer: ownerId },
      token: gateway,
    });
    expect(notOwner.status).toBe(404);
    const bad = await t.call('POST', path, {
      body: { action: 'promote', by: ownerId, viewer: bobId },
      token: gateway,
    });
    expect(bad.status).toBe(400);
  });

  it('refuses bad input with a 4xx', async () => {
    const cases: [unknown, number][] = [
      [{ kind: 'user', user: 'user@acme.test', role: 'viewer' }, 400], // the owner
      [{ kind: 'user', user: 'nobody@acme.test', role: 'viewer' }, 404],
      [{ kind: 'user', user: 'bob@acme.test', role: 'admin' }, 400],
      [{ kind: 'link', role: 'viewer', expiresInSeconds: 10 }, 400],
      [{ kind: 'link', role: 'viewer', expiresInSeconds: 30 * 86_400 }, 400],
      [{ kind: 'group', role: 'viewer' }, 400],
    ];
    for (const [body, status] of cases) {
      const r = await t.call('POST', grants(), { body, token: owner });
      expect({ body, status: r.status }).toEqual({ body, status });
    }
    expect((await t.call('DELETE', `${grants()}/not-a-uuid`, { token: owner })).status).toBe(404);
  });

  it('keeps other tenants and other members out', async () => {
    // a user of another tenant cannot be granted
    const foreign = await t.call('POST', grants(), {
      body: { kind: 'user', user: 'user@globex.test', role: 'viewer' },
      token: owner,
    });
    expect(foreign.status).toBe(404);
    // another tenant's admin sees no such session, under either tenant
    for (const path of [grants(), `/v1/tenants/globex/sessions/${sessionId}/grants`]) {
      expect((await t.call('GET', path, { token: globexAdmin })).status).toBeGreaterThanOrEqual(
        403,
      );
      const post = await t.call('POST', path, {
        body: { kind: 'link', role: 'control' },
        token: globexAdmin,
      });
      expect([403, 404]).toContain(post.status);
    }
    // a member who is not the owner (even one it is shared with) cannot share or list
    expect((await t.call('GET', grants(), { token: other })).status).toBe(404);
    const byOther = await t.call('POST', grants(), {
      body: { kind: 'link', role: 'control' },
      token: other,
    });
    expect(byOther.status).toBe(404);
    // a grant id of this session cannot be revoked through another session's path
    const list = await t.call('GET', grants(), { token: owner });
    const launched = await t.call('POST', base, {
      body: { app: 'sleeper', user: 'bob@acme.test' },
      token: acmeAdmin,
    });
    const wrongPath = `${base}/${launched.body.id}/grants/${list.body[0].id}`;
    expect((await t.call('DELETE', wrongPath, { token: acmeAdmin })).status).toBe(404);
    expect(ownerId).not.toBe(bobId);
  });

  it('cannot share an ended session', async () => {
    await t.call('DELETE', `${base}/${sessionId}`, { token: owner });
    await eventually(
      async () => (await t.call('GET', `${base}/${sessionId}`)).body.state === 'stopped',
    );
    const r = await t.call('POST', grants(), {
      body: { kind: 'link', role: 'viewer' },
      token: owner,
    });
    expect(r.status).toBe(409);
    expect((await gatewayView()).grants).toEqual([]);
  });
});
