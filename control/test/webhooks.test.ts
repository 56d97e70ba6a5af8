// Webhooks end to end on PGlite and PostgreSQL: a real receiving server verifies every
// delivery with the standardwebhooks library; the outbox sends nothing for a rolled-back
// change; retries, the delivery log, redelivery, automatic disabling, two workers sharing one
// outbox, refused targets (checked on the resolved address), timeouts and the size cap.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { eq, sql } from 'drizzle-orm';
import { Webhook } from 'standardwebhooks';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows } from '../src/db/connect.ts';
import { type SessionState, sessions, webhookDeliveries } from '../src/db/schema.ts';
import { emitEvent } from '../src/events/outbox.ts';
import { systemAuditAction } from '../src/events/session.ts';
import { createLogger } from '../src/log.ts';
import { onQuotaEvent } from '../src/sessions/quota-events.ts';
import { transition } from '../src/sessions/transition.ts';
import { WebhookSender } from '../src/webhooks/send.ts';
import { blockListOf } from '../src/webhooks/target.ts';
import { DeliveryWorker } from '../src/webhooks/worker.ts';
import {
  DATABASES,
  eventually,
  freshDatabase,
  seedTenant,
  startTestControlPlane,
  type TestControlPlane,
} from './harness.ts';

interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A webhook receiver: /ok answers 204, /down 500, /flaky 500 twice then 204. */
async function startReceiver() {
  const received: Received[] = [];
  const flaky = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body });
      if (req.url?.startsWith('/down')) return res.writeHead(500).end('down');
      if (req.url?.startsWith('/flaky')) {
        const id = String(req.headers['webhook-id']);
        const n = (flaky.get(id) ?? 0) + 1;
        flaky.set(id, n);
        if (n <= 2) return res.writeHead(503).end();
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    received,
    close: () => new Promise((r) => server.close(r)),
  };
}

/** The events a receiver got at `path`, each verified with the endpoint's secret. */
function verified(received: Received[], path: string, secret: string) {
  const wh = new Webhook(secret);
  return received
    .filter((r) => r.path === path)
    .map((r) => ({
      id: r.headers['webhook-id'] as string,
      event: wh.verify(r.body, r.headers as Record<string, string>) as {
        type: string;
        timestamp: string;
        data: Record<string, unknown>;
      },
    }));
}

describe.each(DATABASES)('webhooks on %s', (kind) => {
  let t: TestControlPlane;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let acme: Awaited<ReturnType<typeof seedTenant>>;
  const base = '/v1/tenants/acme/webhooks';

  const endpoint = async (path: string, eventTypes: string[], tenant = 'acme') => {
    const r = await t.call('POST', `/v1/tenants/${tenant}/webhooks`, {
      body: { url: `${receiver.url}${path}`, eventTypes },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body as { id: string; secret: string };
  };

  beforeAll(async () => {
    receiver = await startReceiver();
    t = await startTestControlPlane(
      {
        ...(await freshDatabase(kind)),
        FLOE_WEBHOOK_ALLOW_PRIVATE: 'on', // the receiver is on loopback
        FLOE_WEBHOOK_POLL_MS: '20',
      },
      {
        webhookRetry: {
          initialDelayMs: 50,
          maxDelayMs: 200,
          disableAfterFailures: 3,
          disableAfterMs: 0,
        },
      },
    );
    acme = await seedTenant(t, { slug: 'acme' });
    await seedTenant(t, { slug: 'globex' });
  });
  afterAll(async () => {
    await t?.close();
    await receiver?.close();
  });

  it('delivers every session transition, signed per Standard Webhooks', async () => {
    const hook = await endpoint('/ok/sessions', ['session.*']);
    expect(hook.secret).toMatch(/^whsec_/);
    const launched = await t.call('POST', '/v1/tenants/acme/sessions', {
      body: { app: 'sleeper', user: 'user@acme.test' },
    });
    expect(launched.status).toBe(201);
    const id = launched.body.id;
    await eventually(async () =>
      verified(receiver.received, '/ok/sessions', hook.secret).some(
        (r) => r.event.type === 'session.running',
      ),
    );
    await t.call('DELETE', `/v1/tenants/acme/sessions/${id}`);
    const events = await eventually(async () => {
      const got = verified(receiver.received, '/ok/sessions', hook.secret);
      return got.some((r) => r.event.type === 'session.stopped') && got;
    });
    const types = events.map((r) => r.event.type);
    // (no session.starting required: an app without a streamer runs as soon as it is
    // spawned, and the sync loop records what it observes)
    for (const type of [
      'session.requested',
      'session.placed',
      'session.running',
      'session.stopping',
      'session.stopped',
    ]) {
      expect(types).toContain(type);
    }
    // a launch's events and its session carry one time, the database's, as the API shows it
    for (const type of ['session.requested', 'session.placed']) {
      const e = events.find((r) => r.event.type === type)!;
      expect(e.event.timestamp).toBe(launched.body.createdAt);
      expect(e.event.data).toMatchObject({ session: { createdAt: launched.body.createdAt } });
    }
    const stopped = events.find((r) => r.event.type === 'session.stopped')!;
    // a transition's event has its time: the session's last change
    const final = await t.call('GET', `/v1/tenants/acme/sessions/${id}`);
    expect(final.body.state).toBe('stopped');
    expect(stopped.event.timestamp).toBe(final.body.updatedAt);
    expect(stopped.event.data).toMatchObject({
      from: 'stopping',
      to: 'stopped',
      session: { id, tenantId: acme.tenant.id, appId: acme.app.id },
    });
    // a forged body does not verify
    const raw = receiver.received.find((r) => r.path === '/ok/sessions')!;
    expect(() =>
      new Webhook(hook.secret).verify(
        raw.body.replace('session', 'sessiom'),
        raw.headers as Record<string, string>,
      ),
    ).toThrow();
    // outcomes are written a few milliseconds after the receiver answered
    const log = await eventually(async () => {
      const l = await t.call('GET', `${base}/${hook.id}/deliveries?state=succeeded`);
      return l.body.items.length === events.length && l;
    });
    expect(log.body.items[0]).toMatchObject({ state: 'succeeded', attempts: 1, lastStatus: 204 });
  });

  it('delivers audit entries to endpoints that ask for audit.*, and only to those', async () => {
    const hook = await endpoint('/ok/audit', ['audit.*']);
    const sessionsOnly = receiver.received.filter((r) => r.path === '/ok/sessions').length;
    expect(
      (await t.call('PATCH', '/v1/tenants/acme/apps/sleeper', { body: { name: 'Audited' } }))
        .status,
    ).toBe(200);
    const got = await eventually(async () => {
      const events = verified(receiver.received, '/ok/audit', hook.secret);
      return events.find((e) => e.event.type === 'audit.app.update');
    });
    expect(got.event.data).toMatchObject({
      action: 'app.update',
      target: { type: 'app', id: acme.app.id },
      diff: { name: { to: 'Audited' } },
      actor: { type: 'admin-token' },
    });
    // the event is the entry as the audit log shows it, written with it: same id, same time
    const entries = await t.call('GET', '/v1/tenants/acme/audit-log?action=app.update');
    const entry = entries.body.items.find((e: { id: string }) => e.id === got.event.data.id);
    expect(entry).toEqual(got.event.data);
    expect(got.event.timestamp).toBe(entry.at);
    // `session.*` is not `audit.*`
    expect(receiver.received.filter((r) => r.path === '/ok/sessions').length).toBe(sessionsOnly);
    await t.call('DELETE', `${base}/${hook.id}`);
  });

  it('delivers billing.period.closed and quota events from the transactions that made them', async () => {
    const hook = await endpoint('/ok/money', ['billing.period.closed', 'quota.*']);
    // acme as if made in January 2025: its January period is over and can be closed
    await t.cp.database.db.execute(
      sql`update tenants set created_at = '2025-01-10T00:00:00Z' where id = ${acme.tenant.id}`,
    );
    const closed = await t.call('POST', '/v1/tenants/acme/billing/periods/2025-01/close');
    expect(closed.status, JSON.stringify(closed.body)).toBe(200);
    // a quota event is recorded, and so delivered, once per tenant, quota and period
    const event = {
      tenantId: acme.tenant.id,
      type: 'quota.warning' as const,
      quota: 'tenant.gpuHoursPerMonth',
      periodStart: new Date('2025-02-01T00:00:00Z'),
      data: { used: 91, limit: 100 },
    };
    for (let i = 0; i < 2; i++) {
      await t.cp.database.db.transaction((tx) => onQuotaEvent(tx, event));
    }
    const got = await eventually(async () => {
      const events = verified(receiver.received, '/ok/money', hook.secret);
      return events.length >= 2 && events;
    });
    expect(got.map((r) => r.event.type).sort()).toEqual(['billing.period.closed', 'quota.warning']);
    const period = got.find((r) => r.event.type === 'billing.period.closed')!;
    expect(period.event.data).toMatchObject({ periodId: closed.body.id, period: '2025-01' });
    const warning = got.find((r) => r.event.type === 'quota.warning')!;
    expect(warning.event.data).toMatchObject({ quota: 'tenant.gpuHoursPerMonth', used: 91 });
    await new Promise((r) => setTimeout(r, 200)); // a second delivery would have come by now
    expect(verified(receiver.received, '/ok/money', hook.secret)).toHaveLength(2);
  });

  it('sends nothing for a change that rolled back, and what committed once', async () => {
    const hook = await endpoint('/ok/outbox', ['quota.warning']);
    const { db } = t.cp.database;
    const emit = (tx: Parameters<typeof emitEvent>[0], percent: number) =>
      emitEvent(tx, { tenantId: acme.tenant.id, type: 'quota.warning', data: { percent } });
    await expect(
      db.transaction(async (tx) => {
        await emit(tx, 91);
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    await db.transaction(async (tx) => {
      await emit(tx, 92);
    });
    await eventually(async () => verified(receiver.received, '/ok/outbox', hook.secret).length > 0);
    await new Promise((r) => setTimeout(r, 200)); // time for a wrong second delivery
    const got = verified(receiver.received, '/ok/outbox', hook.secret);
    expect(got.map((r) => r.event.data.percent)).toEqual([92]);
    const rows = await db
      .select()
      .from(webhookDeliveries)
      .where(eq(webhookDeliveries.endpointId, hook.id));
    expect(rows).toHaveLength(1);
  });

  it('writes each transition of racing reports once, with its event and audit entry', async () => {
    const hook = await endpoint('/ok/race', ['session.*']);
    const { db } = t.cp.database;
    const ids = Array.from({ length: 8 }, () => uuidv7());
    await db.insert(sessions).values(
      ids.map((id) => ({
        id,
        tenantId: acme.tenant.id,
        userId: acme.user.id,
        appId: acme.app.id,
        state: 'placed' as const,
      })),
    );
    // every report at once for each session: which win depends on the order they land in
    const reports: SessionState[] = ['starting', 'running', 'unknown', 'running', 'stopping'];
    await Promise.all(
      ids.flatMap((id) =>
        [...reports, 'stopped' as const, 'failed' as const].map((to) => transition(db, id, to)),
      ),
    );
    for (const id of ids) {
      const moves = await queryRows<{ from_state: string; to_state: string }>(
        db,
        sql`select from_state, to_state from session_events where session_id = ${id} order by id`,
      );
      // one unbroken chain from placed to the session's state, each step one the state
      // machine allows
      const [row] = await db.select().from(sessions).where(eq(sessions.id, id));
      expect(moves.length).toBeGreaterThan(0);
      moves.forEach((m, i) => {
        expect(m.from_state).toBe(i === 0 ? 'placed' : moves[i - 1]!.to_state);
      });
      expect(moves.at(-1)!.to_state).toBe(row!.state);
      // one session.<state> event per step, from and to as recorded
      const queued = await queryRows<{ from: string; to: string }>(
        db,
        sql`select payload->'data'->>'from' as "from", payload->'data'->>'to' as "to"
            from webhook_deliveries
            where endpoint_id = ${hook.id} and payload->'data'->'session'->>'id' = ${id}`,
      );
      const key = (m: { from: string; to: string }) => `${m.from}>${m.to}`;
      expect(queued.map(key).sort()).toEqual(
        moves.map((m) => key({ from: m.from_state, to: m.to_state })).sort(),
      );
      // a system audit entry for each stop or failure Floe made
      const audited = await queryRows<{ n: number }>(
        db,
        sql`select count(*)::int as n from audit_log where target_id = ${id}`,
      );
      const stops = moves.filter((m) =>
        systemAuditAction(m.from_state as SessionState, m.to_state as SessionState),
      );
      expect(audited[0]!.n).toBe(stops.length);
    }
    await t.call('DELETE', `${base}/${hook.id}`);
  });

  it('writes no event and no audit entry for a launch a quota refused', async () => {
    const initech = await seedTenant(t, { slug: 'initech', quotas: { maxSessions: 0 } });
    const hook = await endpoint('/ok/refused', ['session.*', 'audit.*'], 'initech');
    const refused = await t.call('POST', '/v1/tenants/initech/sessions', {
      body: { app: 'sleeper', user: 'user@initech.test' },
    });
    expect(refused.status).toBe(429);
    const { db } = t.cp.database;
    const queued = await queryRows<{ n: number }>(
      db,
      // (the endpoint's own audit.webhook.create is there: it was created with it)
      sql`select count(*)::int as n from webhook_deliveries where endpoint_id = ${hook.id}
          and (event_type like 'session.%' or event_type = 'audit.session.launch')`,
    );
    expect(queued[0]!.n).toBe(0);
    const entries = await t.call('GET', '/v1/tenants/initech/audit-log?action=session.*');
    expect(entries.body.items).toEqual([]);
    // and an admitted one writes all three: session.requested, session.placed and its audit
    await t.call('PATCH', '/v1/tenants/initech', { body: { quotas: { maxSessions: 1 } } });
    const admitted = await t.call('POST', '/v1/tenants/initech/sessions', {
      body: { app: 'sleeper', user: 'user@initech.test' },
    });
    expect(admitted.status).toBe(201);
    const types = await queryRows<{ event_type: string }>(
      db,
      sql`select event_type from webhook_deliveries
          where endpoint_id = ${hook.id} and tenant_id = ${initech.tenant.id} order by event_type`,
    );
    // (beside the quota's audit.tenant.update and the driver's progress)
    for (const type of ['audit.session.launch', 'session.placed', 'session.requested']) {
      expect(types.filter((r) => r.event_type === type)).toHaveLength(1);
    }
    await t.call('DELETE', `/v1/tenants/initech/sessions/${admitted.body.id}`);
    await t.call('DELETE', `/v1/tenants/initech/webhooks/${hook.id}`);
  });

  it('retries with backoff until the receiver answers, and redelivers on request', async () => {
    const hook = await endpoint('/flaky', ['quota.exceeded']);
    const { db } = t.cp.database;
    await db.transaction((tx) =>
      emitEvent(tx, { tenantId: acme.tenant.id, type: 'quota.exceeded', data: { quota: 'x' } }),
    );
    const delivery = await eventually(async () => {
      const log = await t.call('GET', `${base}/${hook.id}/deliveries`);
      const d = log.body.items[0];
      return d?.state === 'succeeded' && d;
    });
    expect(delivery).toMatchObject({ attempts: 3, lastStatus: 204, lastError: null });
    const redelivered = await t.call(
      'POST',
      `${base}/${hook.id}/deliveries/${delivery.id}/redeliver`,
    );
    expect(redelivered.status).toBe(202);
    expect(redelivered.body).toMatchObject({ eventId: delivery.eventId, state: 'pending' });
    await eventually(async () => {
      const log = await t.call('GET', `${base}/${hook.id}/deliveries`);
      return log.body.items.every((d: { state: string }) => d.state === 'succeeded');
    });
    const ids = verified(receiver.received, '/flaky', hook.secret).map((r) => r.id);
    // 3 attempts, then the redelivery (after its own 2 failures): one webhook-id throughout
    expect(new Set(ids)).toEqual(new Set([delivery.eventId]));
  });

  it('disables an endpoint after sustained failure, with the reason, until re-enabled', async () => {
    const hook = await endpoint('/down', ['quota.warning']);
    await t.cp.database.db.transaction((tx) =>
      emitEvent(tx, { tenantId: acme.tenant.id, type: 'quota.warning', data: {} }),
    );
    const disabled = await eventually(async () => {
      const e = await t.call('GET', `${base}/${hook.id}`);
      return !e.body.enabled && e.body;
    });
    expect(disabled.disabledReason).toMatch(/disabled after 3 failed attempts in a row.*HTTP 500/);
    expect(disabled.consecutiveFailures).toBe(3);
    // a disabled endpoint gets no new events
    const down = () => receiver.received.filter((r) => r.path === '/down').length;
    const before = down();
    await t.cp.database.db.transaction((tx) =>
      emitEvent(tx, { tenantId: acme.tenant.id, type: 'quota.warning', data: {} }),
    );
    await new Promise((r) => setTimeout(r, 200));
    expect(down()).toBe(before);
    const enabled = await t.call('PATCH', `${base}/${hook.id}`, { body: { enabled: true } });
    expect(enabled.body).toMatchObject({
      enabled: true,
      disabledReason: null,
      consecutiveFailures: 0,
    });
    await t.call('DELETE', `${base}/${hook.id}`);
  });

  it('shares one outbox between two workers without sending anything twice', async () => {
    const hook = await endpoint('/ok/replicas', ['quota.warning']);
    const { db } = t.cp.database;
    const workers = [1, 2].map(
      () =>
        new DeliveryWorker({
          db,
          secrets: t.cp.secrets,
          log: createLogger('silent'),
          metrics: t.cp.metrics,
          target: { allowPrivate: true, deniedCidrs: [] },
          pollMs: 5,
          batch: 10,
        }),
    );
    for (const w of workers) w.start();
    await db.transaction(async (tx) => {
      for (let i = 0; i < 100; i++) {
        await emitEvent(tx, { tenantId: acme.tenant.id, type: 'quota.warning', data: { i } });
      }
    });
    await eventually(
      async () => verified(receiver.received, '/ok/replicas', hook.secret).length >= 100,
    );
    await new Promise((r) => setTimeout(r, 200));
    await Promise.all(workers.map((w) => w.stop()));
    const got = verified(receiver.received, '/ok/replicas', hook.secret);
    expect(got).toHaveLength(100);
    expect(new Set(got.map((r) => r.id)).size).toBe(100);
  });

  it('keeps each tenant’s endpoints to itself', async () => {
    const hook = await endpoint('/ok/private', ['session.*']);
    const key = await t.call('POST', '/v1/tenants/globex/api-keys', {
      body: { name: 'admin', role: 'tenant-admin' },
    });
    const globex = key.body.token;
    expect((await t.call('GET', base, { token: globex })).status).toBe(404);
    expect((await t.call('GET', `${base}/${hook.id}`, { token: globex })).status).toBe(404);
    expect(
      (await t.call('GET', `/v1/tenants/globex/webhooks/${hook.id}`, { token: globex })).status,
    ).toBe(404);
    expect(
      (
        await t.call('PATCH', `/v1/tenants/globex/webhooks/${hook.id}`, {
          token: globex,
          body: { enabled: false },
        })
      ).status,
    ).toBe(404);
    const member = await t.call('POST', '/v1/tenants/acme/api-keys', {
      body: { name: 'm', role: 'member', user: 'user@acme.test' },
    });
    expect((await t.call('GET', base, { token: member.body.token })).status).toBe(403);
    const listed = await t.call('GET', base);
    expect(JSON.stringify(listed.body)).not.toMatch(/whsec_|secret/);
  });

  it('refuses bad input with 400s', async () => {
    for (const body of [
      { url: 'not a url', eventTypes: ['session.*'] },
      { url: `${receiver.url}/x`, eventTypes: [] },
      { url: `${receiver.url}/x`, eventTypes: ['session.bogus'] },
      { url: 'ftp://example.com/x', eventTypes: ['session.*'] },
    ]) {
      expect((await t.call('POST', base, { body })).status).toBe(400);
    }
    expect((await t.call('GET', `${base}/not-a-uuid`)).status).toBe(404);
  });

  it('counts deliveries and failures in /metrics', async () => {
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).toMatch(/floe_webhook_attempts_total\{outcome="succeeded"\} [1-9]/);
    expect(metrics).toMatch(/floe_webhook_attempts_total\{outcome="failed"\} [1-9]/);
    expect(metrics).toMatch(/floe_webhook_delivery_lag_seconds_count [1-9]/);
    expect(metrics).toMatch(/floe_webhook_pending\{measure="count"\}/);
  });
});

describe('webhook targets', () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  beforeAll(async () => {
    receiver = await startReceiver();
  });
  afterAll(() => receiver?.close());

  it('refuses loopback, private and metadata addresses unless the platform allows them', async () => {
    const t = await startTestControlPlane(
      { ...(await freshDatabase('pglite')), FLOE_WEBHOOK_POLL_MS: '20' },
      { webhookRetry: { initialDelayMs: 60_000 } },
    );
    try {
      const { tenant } = await seedTenant(t, { slug: 'acme' });
      const post = (url: string) =>
        t.call('POST', '/v1/tenants/acme/webhooks', { body: { url, eventTypes: ['session.*'] } });
      for (const url of [
        'https://127.0.0.1/hook',
        'https://169.254.169.254/latest/meta-data',
        'https://10.0.0.5/hook',
        'https://[::1]/hook',
        'https://[::ffff:192.168.0.1]/hook',
        `http://hooks.example.com/plain-http`,
      ]) {
        const r = await post(url);
        expect(r.status, url).toBe(400);
      }
      // a name is checked where it resolves, when it is sent: localhost is loopback
      const byName = await post(`https://localhost:${receiver.port}/ok/by-name`);
      expect(byName.status).toBe(201);
      await t.cp.database.db.transaction((tx) =>
        emitEvent(tx, { tenantId: tenant.id, type: 'session.failed', data: {} }),
      );
      const refused = await eventually(async () => {
        const log = await t.call('GET', `/v1/tenants/acme/webhooks/${byName.body.id}/deliveries`);
        return log.body.items.find((d: { lastAttemptAt: string | null }) => d.lastAttemptAt);
      });
      expect(refused.lastError).toMatch(/refused: localhost: (127\.0\.0\.1|::1) is not a public/);
      expect(receiver.received.filter((r) => r.path === '/ok/by-name')).toEqual([]);
    } finally {
      await t.close();
    }
  });

  it('refuses the cluster’s own ranges even where private targets are allowed', async () => {
    const opts = {
      policy: { allowPrivate: true, deniedCidrs: ['127.0.0.0/8', '::1/128'] },
      denied: blockListOf(['127.0.0.0/8', '::1/128']),
      timeoutMs: 1_000,
      maxResponseBytes: 1024,
    };
    const sender = new WebhookSender(opts);
    const byName = await sender.send(`http://localhost:${receiver.port}/ok/cidr`, {}, '{}');
    expect(byName).toMatchObject({ ok: false, status: null });
    expect(byName.error).toMatch(/cluster's own ranges/);
    const literal = await sender.send(`http://127.0.0.1:${receiver.port}/ok/cidr`, {}, '{}');
    expect(literal.error).toMatch(/cluster's own ranges/);
    expect(receiver.received.filter((r) => r.path === '/ok/cidr')).toEqual([]);
  });

  it('gives up on a receiver that does not answer in time, and reads no more than the cap', async () => {
    const sockets = new Set<import('node:net').Socket>();
    const slow = createServer((req, res) => {
      if (req.url === '/hang') return; // never answers
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(64 * 1024);
      const pump = () => {
        while (res.write(chunk)) {}
      };
      res.on('drain', pump);
      pump(); // an endless body
    });
    slow.on('connection', (s) => sockets.add(s));
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
    const { port } = slow.address() as AddressInfo;
    const opts = {
      policy: { allowPrivate: true, deniedCidrs: [] },
      denied: blockListOf([]),
      timeoutMs: 300,
      maxResponseBytes: 256 * 1024,
    };
    const sender = new WebhookSender(opts);
    try {
      const started = Date.now();
      const hung = await sender.send(`http://127.0.0.1:${port}/hang`, {}, '{}');
      expect(hung).toMatchObject({ ok: false, status: null, error: 'no answer within 300 ms' });
      expect(Date.now() - started).toBeLessThan(5_000);
      const endless = await sender.send(`http://127.0.0.1:${port}/endless`, {}, '{}');
      expect(endless).toMatchObject({ ok: true, status: 200 });
    } finally {
      await sender.close();
      for (const s of sockets) s.destroy();
      await new Promise((r) => slow.close(r));
    }
  });

  it('keeps connections to a receiver alive across deliveries, and checks each new one', async () => {
    let connections = 0;
    const keep = createServer((_req, res) => res.writeHead(204).end());
    keep.on('connection', () => connections++);
    await new Promise<void>((r) => keep.listen(0, '127.0.0.1', r));
    const { port } = keep.address() as AddressInfo;
    const sender = new WebhookSender({
      policy: { allowPrivate: true, deniedCidrs: [] },
      denied: blockListOf([]),
      timeoutMs: 1_000,
      maxResponseBytes: 1024,
    });
    // the same receiver by name: a new connection would be looked up and checked again
    const strict = new WebhookSender({
      policy: { allowPrivate: false, deniedCidrs: [] },
      denied: blockListOf([]),
      timeoutMs: 1_000,
      maxResponseBytes: 1024,
    });
    try {
      for (let i = 0; i < 20; i++) {
        const r = await sender.send(`http://localhost:${port}/d${i}`, {}, '{}');
        expect(r).toEqual({ ok: true, status: 204, error: null });
      }
      // one or two: the pool may open a second before it sees the first free again
      expect(connections).toBeLessThanOrEqual(2);
      const before = connections;
      const refused = await strict.send(`http://localhost:${port}/x`, {}, '{}');
      expect(refused.error).toMatch(/^refused: localhost: .* is not a public address/);
      expect(connections).toBe(before);
    } finally {
      await Promise.all([sender.close(), strict.close()]);
      await new Promise((r) => keep.close(r));
    }
  });
});
