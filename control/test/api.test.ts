// The API's contract on both databases: resources, auth, roles, tenant isolation, bad input.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES } from '../src/api.ts';
import {
  DATABASES,
  freshDatabase,
  seedTenant,
  startTestControlPlane,
  type TestControlPlane,
} from './harness.ts';

describe.each(DATABASES)('control plane API on %s', (kind) => {
  let t: TestControlPlane;
  let acme: Awaited<ReturnType<typeof seedTenant>>;
  let globex: Awaited<ReturnType<typeof seedTenant>>;
  let acmeAdmin: string;
  let acmeMember: string;
  let globexAdmin: string;

  async function key(tenant: string, body: Record<string, unknown>) {
    const r = await t.call('POST', `/v1/tenants/${tenant}/api-keys`, { body });
    expect(r.status).toBe(201);
    return r.body.token as string;
  }

  beforeAll(async () => {
    t = await startTestControlPlane(await freshDatabase(kind));
    acme = await seedTenant(t, { slug: 'acme', quotas: { maxSessions: 10 } });
    globex = await seedTenant(t, { slug: 'globex' });
    acmeAdmin = await key('acme', { name: 'ops', role: 'tenant-admin' });
    acmeMember = await key('acme', { name: 'ada', role: 'member', user: 'user@acme.test' });
    globexAdmin = await key('globex', { name: 'ops', role: 'tenant-admin' });
  });
  afterAll(() => t?.close());

  describe('tenants', () => {
    it('are created, read by slug or id, changed and listed', async () => {
      const byId = await t.call('GET', `/v1/tenants/${acme.tenant.id}`);
      expect(byId.status).toBe(200);
      expect(byId.body).toMatchObject({ slug: 'acme', quotas: { maxSessions: 10, maxGpus: null } });
      const patched = await t.call('PATCH', '/v1/tenants/acme', {
        body: { quotas: { maxGpus: 8 }, allowedRegions: ['local'] },
      });
      expect(patched.body.quotas).toEqual({
        maxSessions: 10,
        maxGpus: 8,
        gpuHoursPerMonth: null,
        maxGpusPerSku: {},
        gpuHoursExceededAction: 'refuse',
      });
      expect(patched.body.allowedRegions).toEqual(['local']);
      const list = await t.call('GET', '/v1/tenants');
      expect(list.body.items.map((x: { slug: string }) => x.slug).sort()).toEqual([
        'acme',
        'globex',
      ]);
    });

    it('refuse a taken slug with 409 and a bad one with 400', async () => {
      const dup = await t.call('POST', '/v1/tenants', { body: { slug: 'acme', name: 'again' } });
      expect(dup.status).toBe(409);
      expect(dup.body.error.code).toBe('conflict');
      const bad = await t.call('POST', '/v1/tenants', { body: { slug: 'Not A Slug', name: 'x' } });
      expect(bad.status).toBe(400);
      expect(bad.body.error.details[0].path).toBe('slug');
    });

    it('are deleted only without active sessions, and their keys stop working', async () => {
      await seedTenant(t, { slug: 'doomed' });
      const doomedKey = await key('doomed', { name: 'k', role: 'tenant-admin' });
      const s = await t.call('POST', '/v1/tenants/doomed/sessions', {
        body: { app: 'sleeper', user: 'user@doomed.test' },
      });
      expect(s.status).toBe(201);
      expect((await t.call('DELETE', '/v1/tenants/doomed')).status).toBe(409);
      await t.call('DELETE', `/v1/tenants/doomed/sessions/${s.body.id}`);
      await expect
        .poll(async () => (await t.call('DELETE', '/v1/tenants/doomed')).status, {
          timeout: 10_000,
        })
        .toBe(204);
      expect((await t.call('GET', '/v1/tenants/doomed')).status).toBe(404);
      expect((await t.call('GET', '/v1/tenants', { token: doomedKey })).status).toBe(401);
    });
  });

  describe('authentication', () => {
    it('answers 401 to a missing, malformed or unknown key', async () => {
      const attempts: Record<string, string>[] = [
        {},
        { authorization: 'Basic abc' },
        { authorization: 'Bearer floe_nope' },
      ];
      for (const headers of attempts) {
        const r = await t.call('GET', '/v1/tenants', { token: null, headers });
        expect(r.status).toBe(401);
        expect(r.body.error.code).toBe('unauthorized');
        expect(r.headers.get('www-authenticate')).toBe('Bearer');
      }
    });

    it('answers 401 to an expired or revoked key', async () => {
      const soon = new Date(Date.now() + 3000).toISOString();
      const shortLived = await key('acme', {
        name: 'short',
        role: 'tenant-admin',
        expiresAt: soon,
      });
      expect((await t.call('GET', '/v1/tenants/acme', { token: shortLived })).status).toBe(200);
      await new Promise((r) => setTimeout(r, 3100));
      const expired = await t.call('GET', '/v1/tenants/acme', { token: shortLived });
      expect(expired.status).toBe(401);
      expect(expired.body.error.message).toMatch(/expired/);

      const created = await t.call('POST', '/v1/tenants/acme/api-keys', {
        body: { name: 'temp', role: 'tenant-admin' },
      });
      expect(created.body.token).toMatch(/^floe_/);
      expect(created.body.prefix).toBe(created.body.token.slice(0, created.body.prefix.length));
      expect((await t.call('DELETE', `/v1/tenants/acme/api-keys/${created.body.id}`)).status).toBe(
        204,
      );
      expect((await t.call('GET', '/v1/tenants/acme', { token: created.body.token })).status).toBe(
        401,
      );
    });

    it('never shows a token again after creation', async () => {
      const list = await t.call('GET', '/v1/tenants/acme/api-keys');
      expect(list.status).toBe(200);
      expect(list.body.items.length).toBeGreaterThan(0);
      for (const k of list.body.items) {
        expect(k.token).toBeUndefined();
        expect(JSON.stringify(k)).not.toMatch(/secret|hash/i);
      }
    });

    it('refuses an expiry in the past and a member key without a user', async () => {
      const past = await t.call('POST', '/v1/tenants/acme/api-keys', {
        body: { name: 'x', role: 'tenant-admin', expiresAt: '2000-01-01T00:00:00Z' },
      });
      expect(past.status).toBe(400);
      const noUser = await t.call('POST', '/v1/tenants/acme/api-keys', {
        body: { name: 'x', role: 'member' },
      });
      expect(noUser.status).toBe(400);
    });
  });

  describe('roles', () => {
    it('keeps clusters and tenant creation to platform admins', async () => {
      expect((await t.call('GET', '/v1/clusters', { token: acmeAdmin })).status).toBe(403);
      const create = await t.call('POST', '/v1/tenants', {
        token: acmeAdmin,
        body: { slug: 'evil', name: 'Evil' },
      });
      expect(create.status).toBe(403);
      expect(
        (
          await t.call('PATCH', '/v1/tenants/acme', {
            token: acmeAdmin,
            body: { quotas: { maxSessions: 999 } },
          })
        ).status,
      ).toBe(403);
    });

    it('lets members read apps and launch for themselves only', async () => {
      expect((await t.call('GET', '/v1/tenants/acme/apps', { token: acmeMember })).status).toBe(
        200,
      );
      expect((await t.call('GET', '/v1/tenants/acme/users', { token: acmeMember })).status).toBe(
        403,
      );
      expect((await t.call('GET', '/v1/tenants/acme/api-keys', { token: acmeMember })).status).toBe(
        403,
      );
      const app = await t.call('POST', '/v1/tenants/acme/apps', {
        token: acmeMember,
        body: { slug: 'mine', name: 'Mine', command: ['true'] },
      });
      expect(app.status).toBe(403);
      await t.call('POST', '/v1/tenants/acme/users', { body: { email: 'bob@acme.test' } });
      const forBob = await t.call('POST', '/v1/tenants/acme/sessions', {
        token: acmeMember,
        body: { app: 'sleeper', user: 'bob@acme.test' },
      });
      expect(forBob.status).toBe(403);
      const own = await t.call('POST', '/v1/tenants/acme/sessions', {
        token: acmeMember,
        body: { app: 'sleeper' },
      });
      expect(own.status).toBe(201);
      expect(own.body.userId).toBe(acme.user.id);
      const bobs = await t.call('POST', '/v1/tenants/acme/sessions', {
        token: acmeAdmin,
        body: { app: 'sleeper', user: 'bob@acme.test' },
      });
      expect(bobs.status).toBe(201);
      // a member sees only their own sessions, and another user's is a 404
      const list = await t.call('GET', '/v1/tenants/acme/sessions', { token: acmeMember });
      expect(list.body.items.every((s: { userId: string }) => s.userId === acme.user.id)).toBe(
        true,
      );
      expect(
        (await t.call('GET', `/v1/tenants/acme/sessions/${bobs.body.id}`, { token: acmeMember }))
          .status,
      ).toBe(404);
      expect(
        (await t.call('DELETE', `/v1/tenants/acme/sessions/${bobs.body.id}`, { token: acmeMember }))
          .status,
      ).toBe(404);
      for (const id of [own.body.id, bobs.body.id])
        await t.call('DELETE', `/v1/tenants/acme/sessions/${id}`);
    });
  });

  describe('tenant isolation', () => {
    it('hides every resource of another tenant behind a 404', async () => {
      const session = await t.call('POST', '/v1/tenants/globex/sessions', {
        token: globexAdmin,
        body: { app: 'sleeper', user: 'user@globex.test' },
      });
      expect(session.status).toBe(201);
      const sid = session.body.id;
      const reads = [
        '/v1/tenants/globex',
        `/v1/tenants/${globex.tenant.id}`,
        '/v1/tenants/globex/users',
        `/v1/tenants/globex/users/${globex.user.id}`,
        '/v1/tenants/globex/apps',
        `/v1/tenants/globex/apps/${globex.app.id}`,
        '/v1/tenants/globex/api-keys',
        '/v1/tenants/globex/sessions',
        `/v1/tenants/globex/sessions/${sid}`,
        `/v1/tenants/acme/sessions/${sid}`,
        `/v1/tenants/acme/apps/${globex.app.id}`,
        `/v1/tenants/acme/users/${globex.user.id}`,
        '/v1/tenants/globex/usage',
      ];
      for (const path of reads) {
        const r = await t.call('GET', path, { token: acmeAdmin });
        expect(r.status, path).toBe(404);
        expect(r.body.error.code, path).toBe('not_found');
      }
      const writes: [string, string, unknown?][] = [
        ['DELETE', `/v1/tenants/globex/sessions/${sid}`],
        ['DELETE', `/v1/tenants/acme/sessions/${sid}`],
        ['PATCH', `/v1/tenants/globex/apps/sleeper`, { name: 'pwned' }],
        ['DELETE', `/v1/tenants/globex/users/${globex.user.id}`],
        ['POST', '/v1/tenants/globex/api-keys', { name: 'x', role: 'tenant-admin' }],
        ['POST', '/v1/tenants/globex/sessions', { app: 'sleeper', user: 'user@globex.test' }],
        // naming another tenant's app or user from one's own tenant
        ['POST', '/v1/tenants/acme/sessions', { app: globex.app.id, user: 'user@acme.test' }],
        ['POST', '/v1/tenants/acme/sessions', { app: 'sleeper', user: globex.user.id }],
      ];
      for (const [method, path, body] of writes) {
        const r = await t.call(method, path, { token: acmeAdmin, body });
        expect(r.status, `${method} ${path}`).toBe(404);
      }
      const still = await t.call('GET', `/v1/tenants/globex/sessions/${sid}`, {
        token: globexAdmin,
      });
      expect(still.body.state).not.toMatch(/stop/);
      expect((await t.call('GET', '/v1/tenants/globex/apps/sleeper')).body.name).toBe('Sleeper');
      await t.call('DELETE', `/v1/tenants/globex/sessions/${sid}`);
    });
  });

  describe('bad input', () => {
    it('answers malformed JSON, unknown fields and wrong types with 400', async () => {
      const cases: unknown[] = [
        '{"slug":',
        'not json',
        { slug: 'ok-slug', name: 'x', extra: true },
        { slug: 'ok-slug', name: 42 },
        { slug: 'ok-slug', name: 'x', quotas: { maxSessions: -1 } },
        { slug: 'ok-slug', name: 'x', quotas: { maxSessions: 1.5 } },
        { slug: 'ok-slug', name: 'x', quotas: { cpus: 3 } },
        [],
        null,
      ];
      for (const body of cases) {
        const r = await t.call('POST', '/v1/tenants', { body });
        expect(r.status, JSON.stringify(body)).toBe(400);
        expect(r.body.error.code).toBe('invalid_request');
        expect(r.body.error.message).toBeTypeOf('string');
        expect(JSON.stringify(r.body)).not.toMatch(/at .*\.ts:\d+/);
      }
    });

    it('refuses values the database cannot store with 400', async () => {
      const r = await t.call('POST', '/v1/tenants', { body: { slug: 'nul', name: 'a\u0000b' } });
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe('invalid_request');
      const app = await t.call('POST', '/v1/tenants/acme/apps', {
        body: { slug: 'nul', name: 'Nul', command: ['x'], env: { A: 'x\u0000y' } },
      });
      expect(app.status).toBe(400);
    });

    it('refuses an oversized body with 413', async () => {
      const r = await t.call('POST', '/v1/tenants', {
        body: { slug: 'big', name: 'x'.repeat(MAX_BODY_BYTES + 1) },
      });
      expect(r.status).toBe(413);
      expect(r.body.error.code).toBe('payload_too_large');
    });

    it('answers bad ids and unknown paths with 404, bad queries with 400', async () => {
      for (const path of [
        '/v1/tenants/acme/sessions/not-a-uuid',
        '/v1/tenants/acme/sessions/00000000-0000-7000-8000-000000000000',
        "/v1/tenants/acme'--/apps",
        '/v1/nothing-here',
      ]) {
        expect((await t.call('GET', path)).status, path).toBe(404);
      }
      for (const path of [
        '/v1/tenants/acme/sessions?limit=0',
        '/v1/tenants/acme/sessions?limit=abc',
        '/v1/tenants/acme/sessions?state=dancing',
        '/v1/tenants/acme/sessions?cursor=xyz',
        '/v1/tenants/acme/usage?from=yesterday',
        '/v1/tenants/acme/usage?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z',
        '/v1/tenants/acme/apps/%00',
      ]) {
        expect((await t.call('GET', path)).status, path).toBe(400);
      }
    });

    it('validates apps: resources, env names, and a way to run them', async () => {
      const bad = [
        { slug: 'a1', name: 'A' },
        { slug: 'a1', name: 'A', command: [] },
        { slug: 'a1', name: 'A', command: ['x'], resources: { cpu: 'lots' } },
        { slug: 'a1', name: 'A', command: ['x'], resources: { gpus: { sku: 'a100', count: 0 } } },
        { slug: 'a1', name: 'A', command: ['x'], env: { 'BAD-NAME': '1' } },
        { slug: 'a1', name: 'A', command: ['x'], idleTimeoutSeconds: 5 },
      ];
      for (const body of bad) {
        expect(
          (await t.call('POST', '/v1/tenants/acme/apps', { body })).status,
          JSON.stringify(body),
        ).toBe(400);
      }
      const ok = await t.call('POST', '/v1/tenants/acme/apps', {
        body: {
          slug: 'desk',
          name: 'Desktop',
          image: 'floe/desktop:1',
          resources: { cpu: '2', memory: '4Gi', gpus: { sku: 'a100', count: 1 } },
          persistence: { size: '10Gi' },
          env: { THEME: 'dark' },
        },
      });
      expect(ok.status).toBe(201);
      expect(ok.body.resources).toEqual({
        cpu: '2',
        memory: '4Gi',
        gpus: { sku: 'a100', count: 1 },
      });
      const patched = await t.call('PATCH', '/v1/tenants/acme/apps/desk', {
        body: { name: 'Desk' },
      });
      expect(patched.body).toMatchObject({
        name: 'Desk',
        image: 'floe/desktop:1',
        env: { THEME: 'dark' },
      });
      expect(
        (await t.call('PATCH', '/v1/tenants/acme/apps/desk', { body: { image: null } })).status,
      ).toBe(400);
    });
  });

  describe('clusters', () => {
    it('are registered, listed and refuse a duplicate name', async () => {
      const body = {
        name: 'gpu-eu',
        region: 'eu-west',
        driver: 'kubernetes',
        gpus: [{ sku: 'a100', count: 8 }],
      };
      const r = await t.call('POST', '/v1/clusters', { body });
      expect(r.status).toBe(201);
      expect((await t.call('POST', '/v1/clusters', { body })).status).toBe(409);
      const list = await t.call('GET', '/v1/clusters');
      expect(list.body.items.map((c: { name: string }) => c.name).sort()).toEqual([
        'gpu-eu',
        'local',
      ]);
      expect((await t.call('GET', '/v1/clusters/gpu-eu')).body.gpus).toEqual([
        { sku: 'a100', count: 8 },
      ]);
    });
  });

  describe('operations', () => {
    it('serves health, metrics, OpenAPI 3.1 and rendered docs', async () => {
      expect((await t.call('GET', '/healthz', { token: null })).body).toEqual({ status: 'ok' });
      const metrics = await t.call('GET', '/metrics', { token: null });
      expect(metrics.body).toMatch(/floe_http_request_duration_seconds_bucket/);
      expect(metrics.body).toMatch(/floe_session_launches_total\{outcome="admitted"\}/);
      const spec = await t.call('GET', '/openapi.json', { token: null });
      expect(spec.body.openapi).toBe('3.1.0');
      expect(Object.keys(spec.body.paths)).toEqual(
        expect.arrayContaining([
          '/v1/tenants',
          '/v1/tenants/{tenant}/sessions',
          '/v1/tenants/{tenant}/usage',
          '/v1/clusters',
        ]),
      );
      const create = spec.body.paths['/v1/tenants/{tenant}/sessions'].post;
      expect(Object.keys(create.responses)).toEqual(expect.arrayContaining(['201', '429']));
      const docs = await t.call('GET', '/docs', { token: null });
      expect(docs.body).toMatch(/swagger-ui-bundle\.js/);
      expect((await t.call('GET', '/docs/swagger-ui-bundle.js', { token: null })).status).toBe(200);
    });
  });
});
