// API keys and their inputs under attack, on both databases: a key never outranks its
// user, dates PostgreSQL cannot store are a 400 (never a 500), and a revoked key stops at
// once whatever its tenant's slug.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DATABASES,
  freshDatabase,
  seedTenant,
  startTestControlPlane,
  type TestControlPlane,
} from './harness.ts';

describe.each(DATABASES)('API key hardening on %s', (kind) => {
  let t: TestControlPlane;

  beforeAll(async () => {
    t = await startTestControlPlane(await freshDatabase(kind));
    await seedTenant(t, { slug: 'acme' });
  });
  afterAll(() => t?.close());

  describe('a key acting as a user', () => {
    it('loses tenant-admin when its user is demoted, and gets it back on promotion', async () => {
      const boss = await t.call('POST', '/v1/tenants/acme/users', {
        body: { email: 'boss@acme.test', role: 'tenant-admin' },
      });
      expect(boss.status).toBe(201);
      const created = await t.call('POST', '/v1/tenants/acme/api-keys', {
        body: { name: 'boss', role: 'tenant-admin', user: 'boss@acme.test' },
      });
      expect(created.status).toBe(201);
      const token = created.body.token as string;
      const users = () => t.call('GET', '/v1/tenants/acme/users', { token });
      expect((await users()).status).toBe(200);

      const demote = await t.call('PATCH', `/v1/tenants/acme/users/${boss.body.id}`, {
        body: { role: 'member' },
      });
      expect(demote.status).toBe(200);
      const refused = await users();
      expect(refused.status).toBe(403);
      // still good for what a member may do
      expect((await t.call('GET', '/v1/tenants/acme/apps', { token })).status).toBe(200);
      expect(
        (
          await t.call('POST', '/v1/tenants/acme/api-keys', {
            token,
            body: { name: 'escape', role: 'tenant-admin' },
          })
        ).status,
      ).toBe(403);

      await t.call('PATCH', `/v1/tenants/acme/users/${boss.body.id}`, {
        body: { role: 'tenant-admin' },
      });
      expect((await users()).status).toBe(200);
    });

    it('cannot be minted above its user’s role', async () => {
      const r = await t.call('POST', '/v1/tenants/acme/api-keys', {
        body: { name: 'up', role: 'tenant-admin', user: 'user@acme.test' },
      });
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe('invalid_request');
      expect(r.body.error.message).toBe(
        'role: a key cannot be tenant-admin when its user user@acme.test is member',
      );
      const member = await t.call('POST', '/v1/tenants/acme/api-keys', {
        body: { name: 'ok', role: 'member', user: 'user@acme.test' },
      });
      expect(member.status).toBe(201);
    });
  });

  describe('dates PostgreSQL cannot store', () => {
    const outOfRange = [
      '0000-01-01T00:00:00Z',
      '9999-12-31T23:59:59-23:59', // year 10000 in UTC
      '0001-01-01T00:00:00+01:00', // year 0 in UTC
    ];

    it.each(outOfRange)('are a 400 for a usage period (from=%s)', async (from) => {
      const r = await t.call(
        'GET',
        `/v1/tenants/acme/usage?from=${encodeURIComponent(from)}&to=2026-01-01T00:00:00Z`,
      );
      expect(r.status).toBe(400);
      expect(r.body.error.message).toBe(
        'from: must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z',
      );
    });

    it.each(outOfRange)('are a 400 for a key’s expiry (expiresAt=%s)', async (expiresAt) => {
      const r = await t.call('POST', '/v1/tenants/acme/api-keys', {
        body: { name: 'far', role: 'tenant-admin', expiresAt },
      });
      expect(r.status).toBe(400);
      expect(r.body.error.message).toBe(
        'expiresAt: must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z',
      );
    });

    it('are accepted at the edges of the range', async () => {
      const r = await t.call('POST', '/v1/tenants/acme/api-keys', {
        body: { name: 'edge', role: 'tenant-admin', expiresAt: '9999-12-31T23:59:59Z' },
      });
      expect(r.status).toBe(201);
      expect(r.body.expiresAt).toBe('9999-12-31T23:59:59.000Z');
      const usage = await t.call(
        'GET',
        '/v1/tenants/acme/usage?from=0001-01-01T00:00:00Z&to=9999-12-31T23:59:59Z',
      );
      expect(usage.status).toBe(200);
    });
  });

  it('a revoked key stops at once when its tenant’s slug begins with "sessions"', async () => {
    await seedTenant(t, { slug: 'sessions-lab' });
    const created = await t.call('POST', '/v1/tenants/sessions-lab/api-keys', {
      body: { name: 'k', role: 'tenant-admin' },
    });
    const token = created.body.token as string;
    // used once: now in the authentication cache
    expect((await t.call('GET', '/v1/tenants/sessions-lab', { token })).status).toBe(200);
    const revoked = await t.call('DELETE', `/v1/tenants/sessions-lab/api-keys/${created.body.id}`);
    expect(revoked.status).toBe(204);
    expect((await t.call('GET', '/v1/tenants/sessions-lab', { token })).status).toBe(401);
  });
});
