// The audit log on PGlite and PostgreSQL: append-only in the database, who/what/where of
// each write (the gateway's view of the client only with a gateway's token), system stops,
// filters, pagination, the JSONL export, and tenant isolation.

import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'drizzle-orm';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { recordAudit, SYSTEM_ACTOR } from '../src/audit/record.ts';
import { openDatabase } from '../src/db/connect.ts';
import {
  DATABASES,
  eventually,
  freshDatabase,
  seedTenant,
  startTestControlPlane,
  type TestControlPlane,
} from './harness.ts';

const ISSUER = 'https://gateway.audit.floe.test';

describe.each(DATABASES)('audit log on %s', (kind) => {
  let t: TestControlPlane;
  /** how far the session loop's clock is ahead of the real one */
  let skewMs = 0;
  let jwks: Server;
  let keys: Awaited<ReturnType<typeof generateKeyPair>>;
  let acme: Awaited<ReturnType<typeof seedTenant>>;
  let globex: Awaited<ReturnType<typeof seedTenant>>;
  let acmeAdmin: string;
  let globexAdmin: string;
  let acmeMember: string;

  const identityToken = (tenantId: string, email: string, role: string) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ tenant_id: tenantId, email, role })
      .setProtectedHeader({ alg: 'ES256', kid: 'gw-1' })
      .setIssuer(ISSUER)
      .setAudience('floe-control')
      .setIssuedAt(now)
      .setExpirationTime(now + 120)
      .sign(keys.privateKey);
  };

  const key = async (tenant: string, role: string, user?: string) => {
    const r = await t.call('POST', `/v1/tenants/${tenant}/api-keys`, {
      body: { name: `${role} key`, role, user },
    });
    expect(r.status).toBe(201);
    return r.body.token as string;
  };

  beforeAll(async () => {
    keys = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(keys.publicKey)), kid: 'gw-1', alg: 'ES256', use: 'sig' };
    jwks = createServer((_, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    const { port } = jwks.address() as AddressInfo;
    t = await startTestControlPlane(
      {
        ...(await freshDatabase(kind)),
        FLOE_GATEWAY_JWKS_URL: `http://127.0.0.1:${port}/.well-known/jwks.json`,
        FLOE_GATEWAY_ISSUER: ISSUER,
        FLOE_WEBHOOK_WORKER: 'off',
      },
      { now: () => new Date(Date.now() + skewMs) },
    );
    acme = await seedTenant(t, { slug: 'acme', app: { maxLifetimeSeconds: 60 } });
    globex = await seedTenant(t, { slug: 'globex' });
    acmeAdmin = await key('acme', 'tenant-admin');
    globexAdmin = await key('globex', 'tenant-admin');
    acmeMember = await key('acme', 'member', 'user@acme.test');
  });
  afterAll(async () => {
    await t?.close();
    await new Promise((resolve) => jwks?.close(resolve));
  });

  it('refuses UPDATE, DELETE and TRUNCATE in the database itself', async () => {
    const { db } = t.cp.database;
    const [before] = (
      (await db.execute(sql`select count(*)::int as n from audit_log`)) as unknown as {
        rows: { n: number }[];
      }
    ).rows;
    expect(before!.n).toBeGreaterThan(0);
    // drizzle wraps the database's error: its cause is PostgreSQL's own
    const refusal = (q: Promise<unknown>) =>
      q.then(
        () => 'allowed',
        (e: Error) => (e.cause as Error | undefined)?.message ?? e.message,
      );
    expect(await refusal(db.execute(sql`update audit_log set action = 'forged'`))).toBe(
      'audit_log is append-only (UPDATE refused)',
    );
    expect(await refusal(db.execute(sql`delete from audit_log`))).toBe(
      'audit_log is append-only (DELETE refused)',
    );
    expect(await refusal(db.execute(sql`truncate audit_log`))).toBe(
      'audit_log is append-only (TRUNCATE refused)',
    );
    const [after] = (
      (await db.execute(
        sql`select count(*)::int as n, count(*) filter (where action = 'forged')::int as forged from audit_log`,
      )) as unknown as { rows: { n: number; forged: number }[] }
    ).rows;
    expect(after).toEqual({ n: before!.n, forged: 0 });
  });

  it('records who, what and the diff of an API key’s write', async () => {
    const r = await t.call('PATCH', '/v1/tenants/acme/apps/sleeper', {
      token: acmeAdmin,
      body: { name: 'Renamed', env: { DB_PASSWORD: 'hunter2' } },
      headers: { 'user-agent': 'audit-test/1', 'x-floe-client-ip': '203.0.113.9' },
    });
    expect(r.status).toBe(200);
    const log = await t.call('GET', '/v1/tenants/acme/audit-log?action=app.update', {
      token: acmeAdmin,
    });
    const [entry] = log.body.items;
    expect(entry).toMatchObject({
      tenantId: acme.tenant.id,
      actor: { type: 'api-key', role: 'tenant-admin', tenantId: acme.tenant.id },
      action: 'app.update',
      target: { type: 'app', id: acme.app.id },
      diff: {
        name: { from: 'Sleeper', to: 'Renamed' },
        env: { from: {}, to: { DB_PASSWORD: '[redacted]' } },
      },
      request: { id: r.headers.get('x-request-id'), userAgent: 'audit-test/1' },
    });
    // the forwarded address is believed from a gateway only: this is the peer's
    expect(entry.request.sourceIp).toMatch(/127\.0\.0\.1$/);
    expect(JSON.stringify(log.body)).not.toContain('hunter2');
  });

  it('records the client as the gateway saw it, for a user through the gateway', async () => {
    const token = await identityToken(acme.tenant.id, 'admin@acme.test', 'tenant-admin');
    const r = await t.call('POST', '/v1/tenants/acme/users', {
      token,
      body: { email: 'new@acme.test' },
      headers: {
        'x-floe-client-ip': '198.51.100.7',
        'x-floe-user-agent': 'Mozilla/5.0 (audit)',
        'x-floe-request-id': 'gw-req-42',
      },
    });
    expect(r.status).toBe(201);
    expect(r.headers.get('x-request-id')).toBe('gw-req-42');
    const log = await t.call('GET', '/v1/tenants/acme/audit-log?action=user.*', {
      token: acmeAdmin,
    });
    const created = log.body.items.find(
      (e: { action: string; request: { id: string } }) =>
        e.action === 'user.create' && e.request.id === 'gw-req-42',
    );
    expect(created).toMatchObject({
      actor: { type: 'user', role: 'tenant-admin', tenantId: acme.tenant.id },
      request: { sourceIp: '198.51.100.7', userAgent: 'Mozilla/5.0 (audit)' },
    });
    // the signed-in admin was created just in time, audited as themself
    const jit = log.body.items.find((e: { action: string }) => e.action === 'user.sign-in-create');
    expect(jit.actor.id).toBe(created.actor.id);
  });

  it('records Floe’s own stops (maximum lifetime) as the system', async () => {
    const launched = await t.call('POST', '/v1/tenants/acme/sessions', {
      token: acmeMember,
      body: { app: 'sleeper' },
    });
    expect(launched.status).toBe(201);
    const id = launched.body.id;
    await eventually(async () => {
      const s = await t.call('GET', `/v1/tenants/acme/sessions/${id}`, { token: acmeMember });
      return s.body.state === 'running';
    });
    skewMs = 3_600_000; // the app's maximum lifetime is 60 s
    await t.cp.supervisor.resync();
    const log = await eventually(async () => {
      const found = await t.call('GET', `/v1/tenants/acme/audit-log?targetId=${id}`, {
        token: acmeAdmin,
      });
      return found.body.items.some((e: { action: string }) => e.action === 'session.stop') && found;
    });
    skewMs = 0;
    const actions = log.body.items.map((e: { action: string; actor: { type: string } }) => [
      e.action,
      e.actor.type,
    ]);
    expect(actions).toContainEqual(['session.launch', 'api-key']);
    expect(actions).toContainEqual(['session.stop', 'system']);
    const stop = log.body.items.find((e: { actor: { type: string } }) => e.actor.type === 'system');
    expect(stop.diff.reason.to).toBe('maximum lifetime reached');
  });

  it('leaves no entry for a write that was refused', async () => {
    const before = await t.call('GET', '/v1/audit-log?action=tenant.delete');
    const launched = await t.call('POST', '/v1/tenants/globex/sessions', {
      body: { app: 'sleeper', user: 'user@globex.test' },
    });
    expect(launched.status).toBe(201);
    expect((await t.call('DELETE', '/v1/tenants/globex')).status).toBe(409);
    const after = await t.call('GET', '/v1/audit-log?action=tenant.delete');
    expect(after.body.items).toEqual(before.body.items);
    await t.call('DELETE', `/v1/tenants/globex/sessions/${launched.body.id}`);
  });

  it('pages with a cursor and filters by actor, action, target and time', async () => {
    const all = await t.call('GET', '/v1/tenants/acme/audit-log?limit=500', { token: acmeAdmin });
    const total = all.body.items.length;
    expect(total).toBeGreaterThan(5);
    const seen: string[] = [];
    let cursor = '';
    for (;;) {
      const p = await t.call('GET', `/v1/tenants/acme/audit-log?limit=2${cursor}`, {
        token: acmeAdmin,
      });
      seen.push(...p.body.items.map((e: { id: string }) => e.id));
      if (!p.body.nextCursor) break;
      cursor = `&cursor=${p.body.nextCursor}`;
    }
    expect(seen).toEqual(all.body.items.map((e: { id: string }) => e.id));

    const byTarget = await t.call(
      'GET',
      `/v1/tenants/acme/audit-log?targetType=app&targetId=${acme.app.id}`,
      { token: acmeAdmin },
    );
    expect(byTarget.body.items.map((e: { action: string }) => e.action)).toEqual([
      'app.update',
      'app.create',
    ]);
    const system = await t.call('GET', '/v1/tenants/acme/audit-log?actorType=system', {
      token: acmeAdmin,
    });
    expect(system.body.items.length).toBeGreaterThan(0);
    const actor = system.body.items[0].actor;
    expect(actor.type).toBe('system');

    const newest = all.body.items[0].at;
    const later = await t.call(
      'GET',
      `/v1/tenants/acme/audit-log?since=${encodeURIComponent(new Date(Date.parse(newest) + 1).toISOString())}`,
      { token: acmeAdmin },
    );
    expect(later.body.items).toEqual([]);
    const bad = await t.call(
      'GET',
      '/v1/tenants/acme/audit-log?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z',
      {
        token: acmeAdmin,
      },
    );
    expect(bad.status).toBe(400);
    expect((await t.call('GET', '/v1/audit-log?since=yesterday')).status).toBe(400);
  });

  it('exports JSON Lines, one entry per line, the same entries as the list', async () => {
    const res = await fetch(`${t.url}/v1/tenants/acme/audit-log/export`, {
      headers: { authorization: `Bearer ${acmeAdmin}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/jsonl/);
    expect(res.headers.get('content-disposition')).toMatch(/attachment; filename="audit-acme-/);
    const lines = (await res.text())
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    const list = await t.call('GET', '/v1/tenants/acme/audit-log?limit=500', { token: acmeAdmin });
    expect(lines).toEqual(list.body.items);
  });

  it('shows a tenant admin their tenant’s entries only; platform admins all', async () => {
    const acmeLog = await t.call('GET', '/v1/tenants/acme/audit-log?limit=500', {
      token: acmeAdmin,
    });
    expect(
      acmeLog.body.items.every((e: { tenantId: string }) => e.tenantId === acme.tenant.id),
    ).toBe(true);
    // another tenant's log, the platform's, and the export: not found or forbidden
    expect((await t.call('GET', '/v1/tenants/globex/audit-log', { token: acmeAdmin })).status).toBe(
      404,
    );
    expect(
      (await t.call('GET', '/v1/tenants/globex/audit-log/export', { token: acmeAdmin })).status,
    ).toBe(404);
    expect((await t.call('GET', '/v1/audit-log', { token: acmeAdmin })).status).toBe(403);
    expect((await t.call('GET', '/v1/audit-log/export', { token: globexAdmin })).status).toBe(403);
    expect((await t.call('GET', '/v1/tenants/acme/audit-log', { token: acmeMember })).status).toBe(
      403,
    );
    const everything = await t.call('GET', '/v1/audit-log?limit=500');
    const tenants = new Set(everything.body.items.map((e: { tenantId: string }) => e.tenantId));
    expect(tenants).toEqual(new Set([acme.tenant.id, globex.tenant.id]));
    const onlyGlobex = await t.call('GET', `/v1/audit-log?tenant=${globex.tenant.id}`);
    expect(
      onlyGlobex.body.items.every((e: { tenantId: string }) => e.tenantId === globex.tenant.id),
    ).toBe(true);
  });
});

describe('the audit log under the application’s own PostgreSQL role', () => {
  it('has no UPDATE, DELETE or TRUNCATE privilege on it, only INSERT and SELECT', async () => {
    // a role that is not a superuser, owning its database and running the migrations, as
    // in production: the migration revokes the privileges from it
    const { postgresUrl, tempRoot } = inject('testbed');
    const role = `floe_app_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client(postgresUrl);
    await admin.connect();
    await admin.query(`create role ${role} login password 'app-pw'`);
    await admin.query(`create database ${role} owner ${role}`);
    await admin.end();
    const url = new URL(postgresUrl);
    url.username = role;
    url.password = 'app-pw';
    url.pathname = `/${role}`;
    const database = await openDatabase({ databaseUrl: url.toString(), dataDir: tempRoot });
    try {
      const { db } = database;
      await db.transaction((tx) =>
        recordAudit(tx, {
          actor: SYSTEM_ACTOR,
          tenantId: null,
          action: 'test.insert',
          target: { type: 'test', id: null },
        }),
      );
      const refusal = (q: Promise<unknown>) =>
        q.then(
          () => 'allowed',
          (e: Error) => (e.cause as Error | undefined)?.message ?? e.message,
        );
      for (const statement of [
        sql`update audit_log set action = 'forged'`,
        sql`delete from audit_log`,
        sql`truncate audit_log`,
      ]) {
        expect(await refusal(db.execute(statement))).toBe('permission denied for table audit_log');
      }
      const rows = (await db.execute(sql`select action from audit_log`)) as unknown as {
        rows: { action: string }[];
      };
      expect(rows.rows).toEqual([{ action: 'test.insert' }]);
    } finally {
      await database.close();
    }
  });
});
