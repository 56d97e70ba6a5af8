// Clipboard and file-transfer policies through the API (PGlite and PostgreSQL): defaults,
// validation, roles, the audit trail and tenant isolation; then, on the local runner with
// streaming, what each tenant's sessions get from the launch: the streamer reports its
// switches and limits at /healthz, and one tenant's policy never reaches another's sessions.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DATABASES,
  eventually,
  freshDatabase,
  seedTenant,
  startTestControlPlane,
  type TestControlPlane,
} from './harness.ts';

const OPEN = { clipboard: true, files: true, maxFileBytes: null, maxHomeBytes: null };
const LOCKED = { clipboard: false, files: false, maxFileBytes: 1_000_000, maxHomeBytes: null };

describe.each(DATABASES)('transfer policy API on %s', (kind) => {
  let t: TestControlPlane;
  let acmeAdmin: string;
  let acmeMember: string;
  let globexAdmin: string;
  let globexApp: string;

  const key = async (tenant: string, role: string, user?: string) => {
    const r = await t.call('POST', `/v1/tenants/${tenant}/api-keys`, {
      body: { name: `${role} key`, role, user },
    });
    expect(r.status).toBe(201);
    return r.body.token as string;
  };

  beforeAll(async () => {
    t = await startTestControlPlane({ ...(await freshDatabase(kind)), FLOE_WEBHOOK_WORKER: 'off' });
    await seedTenant(t, { slug: 'acme' });
    const globex = await seedTenant(t, { slug: 'globex' });
    globexApp = globex.app.id;
    acmeAdmin = await key('acme', 'tenant-admin');
    acmeMember = await key('acme', 'member', 'user@acme.test');
    globexAdmin = await key('globex', 'tenant-admin');
  });
  afterAll(() => t?.close());

  it('starts open, and a tenant admin sets the tenant’s and an app’s', async () => {
    const token = acmeAdmin;
    expect(await t.call('GET', '/v1/tenants/acme/transfer-policy', { token })).toMatchObject({
      status: 200,
      body: OPEN,
    });
    const put = await t.call('PUT', '/v1/tenants/acme/transfer-policy', { token, body: LOCKED });
    expect(put).toMatchObject({ status: 200, body: LOCKED });
    expect((await t.call('GET', '/v1/tenants/acme/transfer-policy', { token })).body).toEqual(
      LOCKED,
    );

    const appPolicy = { ...OPEN, maxHomeBytes: 5_000_000 };
    const path = '/v1/tenants/acme/apps/sleeper/transfer-policy';
    expect((await t.call('GET', path, { token })).body).toEqual(OPEN);
    expect((await t.call('PUT', path, { token, body: appPolicy })).status).toBe(200);
    expect((await t.call('GET', path, { token })).body).toEqual(appPolicy);
    // the tenant's own stays as it was
    expect((await t.call('GET', '/v1/tenants/acme/transfer-policy', { token })).body).toEqual(
      LOCKED,
    );
  });

  it('records each change in the audit log with what changed', async () => {
    const log = await t.call('GET', '/v1/tenants/acme/audit-log?action=transfer-policy.update', {
      token: acmeAdmin,
    });
    expect(log.status).toBe(200);
    const entry = log.body.items.find(
      (e: { action: string }) => e.action === 'transfer-policy.update',
    );
    expect(entry).toBeDefined();
    expect(JSON.stringify(entry.diff)).toContain('clipboard');
  });

  it.each([
    ['a negative limit', { ...OPEN, maxFileBytes: -1 }],
    ['a fractional limit', { ...OPEN, maxFileBytes: 1.5 }],
    ['a limit past 1 PiB', { ...OPEN, maxHomeBytes: 2 ** 51 }],
    ['a string switch', { ...OPEN, files: 'no' }],
    ['a missing field', { clipboard: true, files: true, maxFileBytes: null }],
    ['an unknown field', { ...OPEN, printing: false }],
  ])('refuses %s with a 400', async (_, body) => {
    const r = await t.call('PUT', '/v1/tenants/acme/transfer-policy', { token: acmeAdmin, body });
    expect(r.status).toBe(400);
    expect(r.body.error).toBeDefined();
  });

  it('is for admins: a member can neither read nor set it', async () => {
    const path = '/v1/tenants/acme/transfer-policy';
    expect((await t.call('GET', path, { token: acmeMember })).status).toBe(403);
    expect((await t.call('PUT', path, { token: acmeMember, body: OPEN })).status).toBe(403);
  });

  it('keeps tenants apart: another tenant’s policy and apps are not found', async () => {
    const token = acmeAdmin;
    expect((await t.call('GET', '/v1/tenants/globex/transfer-policy', { token })).status).toBe(404);
    expect(
      (await t.call('PUT', '/v1/tenants/globex/transfer-policy', { token, body: OPEN })).status,
    ).toBe(404);
    // globex's app by its id, under acme: not acme's
    const path = `/v1/tenants/acme/apps/${globexApp}/transfer-policy`;
    expect((await t.call('PUT', path, { token, body: LOCKED })).status).toBe(404);
    // and acme's changes left globex open
    const globex = await t.call('GET', '/v1/tenants/globex/transfer-policy', {
      token: globexAdmin,
    });
    expect(globex.body).toEqual(OPEN);
    const globexAppPolicy = await t.call('GET', '/v1/tenants/globex/apps/sleeper/transfer-policy', {
      token: globexAdmin,
    });
    expect(globexAppPolicy.body).toEqual(OPEN);
  });
});

const PROBE_APP = fileURLToPath(import.meta.resolve('@floe/streamer/probe-app'));

describe('what streaming sessions get from the launch', () => {
  let t: TestControlPlane;

  beforeAll(async () => {
    t = await startTestControlPlane({
      ...(await freshDatabase('pglite')),
      FLOE_LOCAL_STREAMING: 'on',
      FLOE_WEBHOOK_WORKER: 'off',
    });
    const probe = { command: [process.execPath, PROBE_APP, '--fps=5'] };
    await seedTenant(t, { slug: 'acme', app: probe });
    await seedTenant(t, { slug: 'globex', app: probe });
    await t.call('PUT', '/v1/tenants/acme/transfer-policy', { body: LOCKED });
    // globex narrows one app only
    await t.call('PUT', '/v1/tenants/globex/apps/sleeper/transfer-policy', {
      body: { ...OPEN, maxFileBytes: 2_000_000, maxHomeBytes: 9_000_000 },
    });
  });
  afterAll(() => t?.close());

  async function launch(tenant: string) {
    const base = `/v1/tenants/${tenant}/sessions`;
    const launched = await t.call('POST', base, {
      body: { app: 'sleeper', user: `user@${tenant}.test` },
    });
    expect(launched.status).toBe(201);
    const running = await eventually(async () => {
      const s = (await t.call('GET', `${base}/${launched.body.id}`)).body;
      return s.state === 'running' && s;
    });
    const health = await (await fetch(new URL('healthz', running.endpoint))).json();
    await t.call('DELETE', `${base}/${launched.body.id}`);
    return health.transfer;
  }

  it('hands each session its own tenant’s and app’s policy, enforced by its streamer', async () => {
    const [acme, globex] = await Promise.all([launch('acme'), launch('globex')]);
    expect(acme).toMatchObject({ clipboard: false, files: false, maxFileBytes: 1_000_000 });
    expect(globex).toMatchObject({
      clipboard: true,
      files: true,
      maxFileBytes: 2_000_000,
      maxHomeBytes: 9_000_000,
    });
  }, 90_000);
});
