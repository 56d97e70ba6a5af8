// Per-tenant identity providers (secret write-only, encrypted at rest, host names unique),
// the gateway's API key role and its routes, and /v1/me, on both databases.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { queryRows } from '../src/db/connect.ts';
import { clientSecretContext } from '../src/routes/identity-provider.ts';
import { parseSecretKey, SecretBox } from '../src/secrets.ts';
import {
  ADMIN_TOKEN,
  DATABASES,
  freshDatabase,
  seedTenant,
  startTestControlPlane,
  type TestControlPlane,
} from './harness.ts';

const SECRET = 'client-secret-that-must-never-leak-0001';

describe.each(DATABASES)('identity providers and gateways on %s', (kind) => {
  let t: TestControlPlane;
  let env: Record<string, string>;
  let acme: Awaited<ReturnType<typeof seedTenant>>;
  let globex: Awaited<ReturnType<typeof seedTenant>>;
  let acmeAdmin: string;
  let acmeMember: string;
  let globexAdmin: string;
  let gatewayKey: string;
  let gatewayKeyId: string;
  const issuer = () => inject('testbed').oidc.issuer;
  const idp = (tenant: string) => `/v1/tenants/${tenant}/identity-provider`;

  async function key(tenant: string, body: Record<string, unknown>) {
    const r = await t.call('POST', `/v1/tenants/${tenant}/api-keys`, { body });
    expect(r.status).toBe(201);
    return r.body.token as string;
  }

  beforeAll(async () => {
    // development mode: the testbed's provider is plain http on loopback
    env = { ...(await freshDatabase(kind)), FLOE_DEV_INSECURE_ISSUERS: 'on' };
    t = await startTestControlPlane(env);
    acme = await seedTenant(t, { slug: 'acme' });
    globex = await seedTenant(t, { slug: 'globex' });
    acmeAdmin = await key('acme', { name: 'ops', role: 'tenant-admin' });
    acmeMember = await key('acme', { name: 'ada', role: 'member', user: 'user@acme.test' });
    globexAdmin = await key('globex', { name: 'ops', role: 'tenant-admin' });
    const gw = await t.call('POST', '/v1/api-keys', { body: { name: 'eu-gw', role: 'gateway' } });
    expect(gw.status).toBe(201);
    expect(gw.body).toMatchObject({ role: 'gateway', tenantId: null, userId: null });
    gatewayKey = gw.body.token;
    gatewayKeyId = gw.body.id;
  });
  afterAll(() => t?.close());

  describe('identity provider configuration', () => {
    it('is set by a tenant admin, read back without its secret, and defaults filled in', async () => {
      const put = await t.call('PUT', idp('acme'), {
        token: acmeAdmin,
        body: {
          issuer: issuer(),
          clientId: 'floe-test',
          clientSecret: SECRET,
          hostnames: ['Login.Acme.Test', 'acme.floe.test', 'acme.floe.test'],
        },
      });
      expect(put.status).toBe(200);
      expect(put.body).toEqual({
        issuer: issuer(),
        clientId: 'floe-test',
        hasClientSecret: true,
        rolesClaim: 'floe_roles',
        adminRoles: ['tenant-admin'],
        hostnames: ['acme.floe.test', 'login.acme.test'],
        allowedEmailDomains: [],
        requiredClaim: null,
        updatedAt: expect.any(String),
      });
      const get = await t.call('GET', idp('acme'), { token: acmeAdmin });
      expect(get.status).toBe(200);
      expect(get.body).toEqual(put.body);
      for (const r of [put, get]) expect(JSON.stringify(r.body)).not.toContain(SECRET);
      // a platform admin may too
      expect((await t.call('GET', idp(acme.tenant.id))).body).toEqual(put.body);
    });

    it('stores the secret encrypted (AES-256-GCM) under the generated key', async () => {
      const rows = await queryRows<{ sealed: string; tenant: string }>(
        t.cp.database.db,
        sql`select client_secret_sealed as sealed, tenant_id as tenant from identity_providers`,
      );
      const row = rows.find((r) => r.tenant === acme.tenant.id)!;
      expect(row.sealed).not.toContain(SECRET);
      expect(row.sealed).not.toContain(Buffer.from(SECRET).toString('base64'));
      expect(row.sealed).toMatch(/^v1\.[\w-]+\.[\w-]+\.[\w-]+$/);
      // the key generated at first start, readable by its owner only
      const keyFile = join(env.FLOE_DATA_DIR as string, 'secret.key');
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
      const box = new SecretBox(parseSecretKey(readFileSync(keyFile, 'utf8'))!);
      expect(box.open(row.sealed, clientSecretContext(acme.tenant.id))).toBe(SECRET);
      // bound to its tenant: copied into another tenant's row it does not open
      expect(box.open(row.sealed, clientSecretContext(globex.tenant.id))).toBeNull();
    });

    it('keeps the stored secret when a PUT omits it, and removes it on null', async () => {
      const put = await t.call('PUT', idp('acme'), {
        token: acmeAdmin,
        body: {
          issuer: issuer(),
          clientId: 'floe-test',
          rolesClaim: 'groups',
          adminRoles: ['admins', 'owners'],
          hostnames: ['acme.floe.test', 'login.acme.test'],
        },
      });
      expect(put.status).toBe(200);
      expect(put.body).toMatchObject({
        hasClientSecret: true,
        rolesClaim: 'groups',
        adminRoles: ['admins', 'owners'],
      });
      const seen = await t.call('GET', '/v1/gateway/tenants/acme', { token: gatewayKey });
      expect(seen.body.identityProvider.clientSecret).toBe(SECRET);

      await t.call('PUT', idp('globex'), {
        token: globexAdmin,
        body: { issuer: 'https://login.globex.example', clientId: 'pub', clientSecret: 'x-1' },
      });
      const cleared = await t.call('PUT', idp('globex'), {
        token: globexAdmin,
        body: { issuer: 'https://login.globex.example', clientId: 'pub', clientSecret: null },
      });
      expect(cleared.body.hasClientSecret).toBe(false);
      const gw = await t.call('GET', '/v1/gateway/tenants/globex', { token: gatewayKey });
      expect(gw.body.identityProvider).toMatchObject({ clientId: 'pub', clientSecret: null });
    });

    it('refuses a host name another tenant holds with 409, and frees it on DELETE', async () => {
      const taken = await t.call('PUT', idp('globex'), {
        token: globexAdmin,
        body: {
          issuer: 'https://login.globex.example',
          clientId: 'pub',
          hostnames: ['globex.floe.test', 'ACME.floe.test'],
        },
      });
      expect(taken.status).toBe(409);
      expect(taken.body.error.code).toBe('conflict');
      expect(taken.body.error.message).toMatch(/acme\.floe\.test/);
      // nothing of the refused PUT was kept
      expect((await t.call('GET', idp('globex'), { token: globexAdmin })).body.hostnames).toEqual(
        [],
      );
      // the same names again for their own tenant are fine
      const again = await t.call('PUT', idp('acme'), {
        token: acmeAdmin,
        body: { issuer: issuer(), clientId: 'floe-test', hostnames: ['acme.floe.test'] },
      });
      expect(again.status).toBe(200);
      expect(again.body.hostnames).toEqual(['acme.floe.test']);
      // login.acme.test was dropped by that PUT: free for others
      const freed = await t.call('PUT', idp('globex'), {
        token: globexAdmin,
        body: {
          issuer: 'https://login.globex.example',
          clientId: 'pub',
          hostnames: ['login.acme.test'],
        },
      });
      expect(freed.status).toBe(200);
      await t.call('PUT', idp('globex'), {
        token: globexAdmin,
        body: { issuer: 'https://login.globex.example', clientId: 'pub', hostnames: [] },
      });

      // concurrent claims of one name: exactly one tenant gets it
      const claims = await Promise.all([
        t.call('PUT', idp('acme'), {
          token: acmeAdmin,
          body: {
            issuer: issuer(),
            clientId: 'floe-test',
            hostnames: ['acme.floe.test', 'contested.floe.test'],
          },
        }),
        t.call('PUT', idp('globex'), {
          token: globexAdmin,
          body: { issuer: issuer(), clientId: 'floe-test', hostnames: ['contested.floe.test'] },
        }),
      ]);
      expect(claims.map((c) => c.status).sort()).toEqual([200, 409]);
      const winner = claims[0]!.status === 200 ? 'acme' : 'globex';
      const held = await t.call('GET', '/v1/gateway/hostnames/contested.floe.test', {
        token: gatewayKey,
      });
      expect(held.body.tenant.slug).toBe(winner);
      expect(
        (await t.call('GET', idp(winner === 'acme' ? 'globex' : 'acme'))).body.hostnames,
      ).not.toContain('contested.floe.test');
      await t.call('PUT', idp('globex'), {
        body: { issuer: issuer(), clientId: 'floe-test', hostnames: [] },
      });
      await t.call('PUT', idp('acme'), {
        body: { issuer: issuer(), clientId: 'floe-test', hostnames: ['acme.floe.test'] },
      });

      await seedTenant(t, { slug: 'initech' });
      expect(
        (
          await t.call('PUT', idp('initech'), {
            body: { issuer: issuer(), clientId: 'c', hostnames: ['initech.floe.test'] },
          })
        ).status,
      ).toBe(200);
      expect((await t.call('DELETE', idp('initech'))).status).toBe(204);
      const gone = await t.call('GET', idp('initech'));
      expect(gone.status).toBe(404);
      expect(gone.body.error).toEqual({
        code: 'not_found',
        message: 'identity provider not found',
      });
      expect((await t.call('DELETE', idp('initech'))).status).toBe(404);
      const reuse = await t.call('PUT', idp('globex'), {
        token: globexAdmin,
        body: { issuer: issuer(), clientId: 'c', hostnames: ['initech.floe.test'] },
      });
      expect(reuse.status).toBe(200);
    });

    it('frees the host names of a deleted tenant', async () => {
      await seedTenant(t, { slug: 'doomed' });
      await t.call('PUT', idp('doomed'), {
        body: { issuer: issuer(), clientId: 'c', clientSecret: 's', hostnames: ['doomed.test'] },
      });
      expect(
        (await t.call('GET', '/v1/gateway/hostnames/doomed.test', { token: gatewayKey })).status,
      ).toBe(200);
      expect((await t.call('DELETE', '/v1/tenants/doomed')).status).toBe(204);
      for (const path of ['hostnames/doomed.test', 'tenants/doomed']) {
        const r = await t.call('GET', `/v1/gateway/${path}`, { token: gatewayKey });
        expect(r.status, path).toBe(404);
      }
      const claimed = await t.call('PUT', idp('globex'), {
        token: globexAdmin,
        body: { issuer: issuer(), clientId: 'c', hostnames: ['doomed.test'] },
      });
      expect(claimed.status).toBe(200);
    });

    it('validates issuer, client id and host names with 400', async () => {
      const base = { issuer: 'https://login.acme.example', clientId: 'floe' };
      const bad: Record<string, unknown>[] = [
        { ...base, issuer: 'ftp://login.acme.example' },
        { ...base, issuer: 'https://login.acme.example/?tenant=1' },
        { ...base, issuer: 'https://user:pw@login.acme.example' },
        { ...base, issuer: 'not a url' },
        { ...base, clientId: '' },
        { issuer: base.issuer },
        { ...base, hostnames: ['bad_host!'] },
        { ...base, hostnames: ['-acme.test'] },
        { ...base, hostnames: 'acme.test' },
        // host names are fully qualified: never a single label (a slug), an id or an address
        { ...base, hostnames: ['globex'] },
        { ...base, hostnames: [globex.tenant.id] },
        { ...base, hostnames: ['127.0.0.1'] },
        { ...base, hostnames: ['acme.'] },
        { ...base, allowedEmailDomains: ['not a domain'] },
        { ...base, allowedEmailDomains: 'acme.test' },
        { ...base, requiredClaim: { name: 'org' } },
        { ...base, requiredClaim: { name: '', value: 'acme' } },
        { ...base, adminRoles: [''] },
        { ...base, rolesClaim: '' },
        { ...base, clientSecret: '' },
        { ...base, tenant: 'globex' },
      ];
      for (const body of bad) {
        const r = await t.call('PUT', idp('acme'), { body });
        expect(r.status, JSON.stringify(body)).toBe(400);
        expect(r.body.error.code).toBe('invalid_request');
      }
      // development mode: http is fine for a loopback issuer
      for (const loopback of ['http://localhost:9000', 'http://127.0.0.1:9000/realms/acme']) {
        const r = await t.call('PUT', idp('globex'), {
          token: globexAdmin,
          body: { issuer: loopback, clientId: 'c', hostnames: ['doomed.test'] },
        });
        expect(r.status, loopback).toBe(200);
      }
      // nothing was changed by the refused ones
      expect((await t.call('GET', idp('acme'))).body.clientId).toBe('floe-test');
    });

    it('hides another tenant’s configuration behind a 404 and keeps it from members', async () => {
      const before = (await t.call('GET', idp('globex'))).body;
      const body = { issuer: 'https://evil.example', clientId: 'evil', clientSecret: 'evil' };
      for (const ref of ['globex', globex.tenant.id]) {
        for (const [method, b] of [['GET'], ['PUT', body], ['DELETE']] as const) {
          const r = await t.call(method, idp(ref), { token: acmeAdmin, body: b });
          expect(r.status, `${method} ${ref}`).toBe(404);
          expect(r.body.error.code).toBe('not_found');
        }
      }
      expect((await t.call('GET', idp('globex'))).body).toEqual(before);
      for (const [method, b] of [['GET'], ['PUT', body], ['DELETE']] as const) {
        const r = await t.call(method, idp('acme'), { token: acmeMember, body: b });
        expect(r.status, method).toBe(403);
        expect(r.body.error.code).toBe('forbidden');
      }
      expect((await t.call('GET', idp('acme'))).body.clientId).toBe('floe-test');
    });
  });

  describe('gateway keys', () => {
    it('are created by platform admins only, without a tenant, and listed apart', async () => {
      for (const token of [acmeAdmin, acmeMember, gatewayKey]) {
        const r = await t.call('POST', '/v1/api-keys', {
          token,
          body: { name: 'x', role: 'gateway' },
        });
        expect(r.status).toBe(403);
      }
      const bad: unknown[] = [
        { name: 'x', role: 'member' },
        { name: 'x', role: 'gateway', tenant: 'acme' },
        { name: 'x', role: 'gateway', expiresAt: '2000-01-01T00:00:00Z' },
      ];
      for (const body of bad) {
        expect((await t.call('POST', '/v1/api-keys', { body })).status, JSON.stringify(body)).toBe(
          400,
        );
      }
      // a tenant's own keys can never be gateway keys
      const inTenant = await t.call('POST', '/v1/tenants/acme/api-keys', {
        body: { name: 'x', role: 'gateway' },
      });
      expect(inTenant.status).toBe(400);
      const list = await t.call('GET', '/v1/api-keys');
      expect(list.status).toBe(200);
      expect(list.body.items.map((k: { id: string }) => k.id)).toContain(gatewayKeyId);
      expect(list.body.items.every((k: { tenantId: null }) => k.tenantId === null)).toBe(true);
      expect(JSON.stringify(list.body)).not.toMatch(/token|hash/i);
      const tenantKeys = await t.call('GET', '/v1/tenants/acme/api-keys');
      expect(tenantKeys.body.items.map((k: { id: string }) => k.id)).not.toContain(gatewayKeyId);
    });

    it('look tenants up by slug or id, or by host name, never one for the other', async () => {
      const expected = {
        tenant: { id: acme.tenant.id, slug: 'acme', name: 'ACME' },
        identityProvider: {
          issuer: issuer(),
          clientId: 'floe-test',
          clientSecret: SECRET,
          rolesClaim: 'floe_roles',
          adminRoles: ['tenant-admin'],
          allowedEmailDomains: [],
          requiredClaim: null,
        },
      };
      const get = (path: string, ref: string) =>
        t.call('GET', `/v1/gateway/${path}/${encodeURIComponent(ref)}`, { token: gatewayKey });
      for (const ref of ['acme', acme.tenant.id]) {
        const r = await get('tenants', ref);
        expect(r.status, ref).toBe(200);
        expect(r.body, ref).toEqual(expected);
        // a slug or id is no host name
        expect((await get('hostnames', ref)).status, ref).toBe(404);
      }
      for (const ref of ['acme.floe.test', 'ACME.Floe.Test', 'acme.floe.test:8443']) {
        const r = await get('hostnames', ref);
        expect(r.status, ref).toBe(200);
        expect(r.body, ref).toEqual(expected);
        // and a host name no slug
        expect((await get('tenants', ref)).status, ref).toBe(404);
      }
      await seedTenant(t, { slug: 'plain' });
      const plain = await t.call('GET', '/v1/gateway/tenants/plain', { token: gatewayKey });
      expect(plain.body).toMatchObject({ tenant: { slug: 'plain' }, identityProvider: null });
      for (const ref of ['nowhere.test', 'nobody', '00000000-0000-7000-8000-000000000000']) {
        expect((await get('tenants', ref)).status, ref).toBe(404);
        expect((await get('hostnames', ref)).status, ref).toBe(404);
      }
    });

    it('never let one tenant’s host names take over another’s sign-in', async () => {
      // globex's admin claims acme's slug and id as "host names": refused, nothing stored
      const before = (await t.call('GET', idp('globex'))).body;
      for (const hostnames of [['acme'], [acme.tenant.id], ['acme', acme.tenant.id]]) {
        const r = await t.call('PUT', idp('globex'), {
          token: globexAdmin,
          body: { issuer: 'https://evil.example', clientId: 'evil', hostnames },
        });
        expect(r.status, JSON.stringify(hostnames)).toBe(400);
        expect(r.body.error.message).toMatch(/fully qualified/);
      }
      expect((await t.call('GET', idp('globex'))).body).toEqual(before);
      // even a host name row written past the API (as older versions accepted) is never
      // what a slug or id lookup answers with
      await t.cp.database.db.execute(
        sql`insert into tenant_hostnames (hostname, tenant_id) values ('acme', ${globex.tenant.id}), (${acme.tenant.id}, ${globex.tenant.id})`,
      );
      try {
        for (const ref of ['acme', acme.tenant.id]) {
          const r = await t.call('GET', `/v1/gateway/tenants/${ref}`, { token: gatewayKey });
          expect(r.status, ref).toBe(200);
          expect(r.body.tenant.id, ref).toBe(acme.tenant.id);
          expect(r.body.identityProvider.clientId, ref).toBe('floe-test');
        }
      } finally {
        await t.cp.database.db.execute(
          sql`delete from tenant_hostnames where hostname in ('acme', ${acme.tenant.id})`,
        );
      }
    });

    it('carry the provider’s binding to its tenant: email domains and a required claim', async () => {
      const put = await t.call('PUT', idp('acme'), {
        token: acmeAdmin,
        body: {
          issuer: issuer(),
          clientId: 'floe-test',
          hostnames: ['acme.floe.test', 'login.acme.test'],
          allowedEmailDomains: ['Acme.Test', 'acme.test', 'corp.acme.example'],
          requiredClaim: { name: 'floe_tenant', value: 'acme' },
        },
      });
      expect(put.status).toBe(200);
      expect(put.body).toMatchObject({
        allowedEmailDomains: ['acme.test', 'corp.acme.example'],
        requiredClaim: { name: 'floe_tenant', value: 'acme' },
      });
      const seen = await t.call('GET', '/v1/gateway/tenants/acme', { token: gatewayKey });
      expect(seen.body.identityProvider).toMatchObject({
        allowedEmailDomains: ['acme.test', 'corp.acme.example'],
        requiredClaim: { name: 'floe_tenant', value: 'acme' },
      });
      // a PUT that leaves them out (an older console) keeps them
      const kept = await t.call('PUT', idp('acme'), {
        token: acmeAdmin,
        body: {
          issuer: issuer(),
          clientId: 'floe-test',
          hostnames: ['acme.floe.test', 'login.acme.test'],
        },
      });
      expect(kept.body).toMatchObject({
        allowedEmailDomains: ['acme.test', 'corp.acme.example'],
        requiredClaim: { name: 'floe_tenant', value: 'acme' },
      });
      // removed by an empty list and null: back as it was for the tests after this one
      const reset = await t.call('PUT', idp('acme'), {
        token: acmeAdmin,
        body: {
          issuer: issuer(),
          clientId: 'floe-test',
          hostnames: ['acme.floe.test', 'login.acme.test'],
          allowedEmailDomains: [],
          requiredClaim: null,
        },
      });
      expect(reset.body).toMatchObject({ allowedEmailDomains: [], requiredClaim: null });
    });

    it('read a session’s owner, state and endpoint', async () => {
      const launched = await t.call('POST', '/v1/tenants/acme/sessions', {
        token: acmeMember,
        body: { app: 'sleeper' },
      });
      expect(launched.status).toBe(201);
      const id = launched.body.id;
      const r = await t.call('GET', `/v1/gateway/sessions/${id}`, { token: gatewayKey });
      expect(r.status).toBe(200);
      expect(r.body).toEqual({
        id,
        tenantId: acme.tenant.id,
        userId: acme.user.id,
        state: expect.stringMatching(/placed|starting|running/),
        endpoint: null, // FLOE_LOCAL_STREAMING=off: a running app has no endpoint
        reason: null,
        lifetime: null, // its app has no maximum lifetime
        grants: [], // shared with nobody (session-grants.test.ts)
      });
      await t.call('DELETE', `/v1/tenants/acme/sessions/${id}`);
      for (const ref of ['00000000-0000-7000-8000-000000000000', 'not-a-uuid']) {
        const missing = await t.call('GET', `/v1/gateway/sessions/${ref}`, { token: gatewayKey });
        expect(missing.status, ref).toBe(404);
        expect(missing.body.error.code).toBe('not_found');
      }
    });

    it('may call the gateway routes only, and no other role may call those', async () => {
      const elsewhere: [string, string, unknown?][] = [
        ['GET', '/v1/tenants'],
        ['GET', '/v1/tenants/acme'],
        ['GET', `/v1/tenants/${acme.tenant.id}/sessions`],
        ['GET', idp('acme')],
        ['PUT', idp('acme'), { issuer: issuer(), clientId: 'x' }],
        ['POST', '/v1/tenants', { slug: 'gw', name: 'GW' }],
        ['GET', '/v1/clusters'],
        ['GET', '/v1/api-keys'],
        ['POST', '/v1/tenants/acme/sessions', { app: 'sleeper', user: 'user@acme.test' }],
        ['GET', '/v1/nothing-here'],
      ];
      for (const [method, path, body] of elsewhere) {
        const r = await t.call(method, path, { token: gatewayKey, body });
        expect(r.status, `${method} ${path}`).toBe(403);
        expect(r.body.error.code).toBe('forbidden');
      }
      for (const token of [ADMIN_TOKEN, acmeAdmin, acmeMember, globexAdmin]) {
        for (const path of ['/v1/gateway/tenants/acme', `/v1/gateway/sessions/${acme.user.id}`]) {
          const r = await t.call('GET', path, { token });
          expect(r.status, path).toBe(403);
        }
      }
      expect((await t.call('GET', '/v1/me', { token: gatewayKey })).body).toEqual({
        role: 'gateway',
        tenant: null,
        user: null,
      });
    });

    it('stop working once revoked', async () => {
      const gw = await t.call('POST', '/v1/api-keys', { body: { name: 'tmp', role: 'gateway' } });
      const path = '/v1/gateway/tenants/acme';
      expect((await t.call('GET', path, { token: gw.body.token })).status).toBe(200);
      expect(
        (await t.call('DELETE', `/v1/api-keys/${gw.body.id}`, { token: acmeAdmin })).status,
      ).toBe(403);
      expect((await t.call('DELETE', `/v1/api-keys/${gw.body.id}`)).status).toBe(204);
      expect((await t.call('DELETE', `/v1/api-keys/${gw.body.id}`)).status).toBe(404);
      expect((await t.call('GET', path, { token: gw.body.token })).status).toBe(401);
      // a tenant's key is not revoked through the platform route
      const tenantKey = await t.call('POST', '/v1/tenants/acme/api-keys', {
        body: { name: 'k', role: 'tenant-admin' },
      });
      expect((await t.call('DELETE', `/v1/api-keys/${tenantKey.body.id}`)).status).toBe(404);
    });
  });

  describe('/v1/me', () => {
    it('describes the caller', async () => {
      expect((await t.call('GET', '/v1/me')).body).toEqual({
        role: 'platform-admin',
        tenant: null,
        user: null,
      });
      expect((await t.call('GET', '/v1/me', { token: acmeMember })).body).toEqual({
        role: 'member',
        tenant: { id: acme.tenant.id, slug: 'acme', name: 'ACME' },
        user: { id: acme.user.id, email: 'user@acme.test' },
      });
      expect((await t.call('GET', '/v1/me', { token: acmeAdmin })).body).toEqual({
        role: 'tenant-admin',
        tenant: { id: acme.tenant.id, slug: 'acme', name: 'ACME' },
        user: null,
      });
      expect((await t.call('GET', '/v1/me', { token: null })).status).toBe(401);
    });

    it('refuses identity tokens when no gateway is configured', async () => {
      const jwt = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
      const r = await t.call('GET', '/v1/me', { token: jwt });
      expect(r.status).toBe(401);
      expect(r.body.error.message).toMatch(/no gateway is configured/);
    });
  });

  it('documents the new routes', async () => {
    const spec = await t.call('GET', '/openapi.json', { token: null });
    expect(Object.keys(spec.body.paths)).toEqual(
      expect.arrayContaining([
        '/v1/tenants/{tenant}/identity-provider',
        '/v1/gateway/tenants/{ref}',
        '/v1/gateway/hostnames/{hostname}',
        '/v1/gateway/sessions/{session}',
        '/v1/api-keys',
        '/v1/me',
        '/v1/tenants/{tenant}/sessions/{session}/progress',
      ]),
    );
  });
});

describe('identity provider issuers in production (no development mode)', () => {
  let t: TestControlPlane;
  beforeAll(async () => {
    t = await startTestControlPlane(await freshDatabase('pglite'));
    await seedTenant(t, { slug: 'acme' });
  });
  afterAll(() => t?.close());

  it('are https on a public host only: no plain http, loopback, private or in-cluster address', async () => {
    const refused = [
      'http://login.acme.example',
      'http://localhost:9000',
      'http://127.0.0.1:9000/realms/acme',
      'https://localhost:9000',
      'https://127.0.0.1:8443',
      'https://10.0.0.7',
      'https://192.168.1.20/idp',
      'https://169.254.169.254',
      'https://[::1]:8443',
      'https://[fd00::1]',
      'https://keycloak',
      'https://acme.localhost',
      'https://keycloak.auth.svc.cluster.local',
      'https://idp.internal',
    ];
    for (const issuer of refused) {
      const r = await t.call('PUT', '/v1/tenants/acme/identity-provider', {
        body: { issuer, clientId: 'c' },
      });
      expect(r.status, issuer).toBe(400);
      expect(r.body.error.code, issuer).toBe('invalid_request');
    }
    expect((await t.call('GET', '/v1/tenants/acme/identity-provider')).status).toBe(404);
    for (const issuer of ['https://login.acme.example', 'https://login.acme.example/realms/x']) {
      const r = await t.call('PUT', '/v1/tenants/acme/identity-provider', {
        body: { issuer, clientId: 'c' },
      });
      expect(r.status, issuer).toBe(200);
    }
  });
});

describe('tenant slugs', () => {
  let t: TestControlPlane;
  beforeAll(async () => {
    t = await startTestControlPlane(await freshDatabase('pglite'));
  });
  afterAll(() => t?.close());

  it('never have the shape of an id, so a slug cannot name another tenant', async () => {
    const acme = await seedTenant(t, { slug: 'acme' });
    const r = await t.call('POST', '/v1/tenants', { body: { slug: acme.tenant.id, name: 'X' } });
    expect(r.status).toBe(400);
    expect(r.body.error.details[0].path).toBe('slug');
    const byId = await t.call('GET', `/v1/tenants/${acme.tenant.id}`);
    expect(byId.body.slug).toBe('acme');
  });
});
