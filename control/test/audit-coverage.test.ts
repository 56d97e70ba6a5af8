// Every write route in the OpenAPI document, called once as it succeeds: each must leave an
// audit entry carrying its request id (the X-Request-Id it answered with). A new write route
// fails this test until it is added to WRITES below, and then until it audits.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  eventually,
  freshDatabase,
  startTestControlPlane,
  type TestControlPlane,
} from './harness.ts';

type Call = TestControlPlane['call'];
type Answer = Awaited<ReturnType<Call>>;

const T = '/v1/tenants/cov';
const CARD = { currency: 'EUR', sessionHour: '0.50' };
/** a rate card that has not taken effect yet can still be removed */
const LATER = new Date(Date.now() + 365 * 86_400_000).toISOString();
const ids: Record<string, string> = {};

/** One successful call per write operation, in an order where each has what it needs. */
const WRITES: [string, (call: Call, t: TestControlPlane) => Promise<Answer>][] = [
  [
    'post /v1/tenants',
    (call) => call('POST', '/v1/tenants', { body: { slug: 'cov', name: 'Cov' } }),
  ],
  ['patch /v1/tenants/{tenant}', (call) => call('PATCH', T, { body: { name: 'Coverage' } })],
  [
    'post /v1/billing/rate-cards',
    async (call) => {
      const r = await call('POST', '/v1/billing/rate-cards', {
        body: { ...CARD, effectiveFrom: LATER },
      });
      ids.rateCard = r.body.id;
      return r;
    },
  ],
  [
    'post /v1/tenants/{tenant}/billing/rate-cards',
    (call) => call('POST', `${T}/billing/rate-cards`, { body: { ...CARD, effectiveFrom: LATER } }),
  ],
  [
    'delete /v1/billing/rate-cards/{id}',
    (call) => call('DELETE', `/v1/billing/rate-cards/${ids.rateCard}`),
  ],
  [
    'put /v1/tenants/{tenant}/billing/settings',
    (call) => call('PUT', `${T}/billing/settings`, { body: { timeZone: 'Europe/Paris' } }),
  ],
  [
    'post /v1/tenants/{tenant}/billing/periods/{period}/close',
    async (call, t) => {
      // a tenant made in January 2025 has periods that are over (Paris months, as set above)
      await t.cp.database.db.execute(
        sql`update tenants set created_at = '2025-01-15T00:00:00Z' where slug = 'cov'`,
      );
      return call('POST', `${T}/billing/periods/2025-01/close`);
    },
  ],
  [
    'post /v1/billing/periods/{period}/close',
    (call) => call('POST', '/v1/billing/periods/2025-02/close'),
  ],
  [
    'post /v1/tenants/{tenant}/users',
    (call) => call('POST', `${T}/users`, { body: { email: 'u@cov.test' } }),
  ],
  [
    'patch /v1/tenants/{tenant}/users/{user}',
    (call) => call('PATCH', `${T}/users/u@cov.test`, { body: { role: 'tenant-admin' } }),
  ],
  [
    'post /v1/tenants/{tenant}/apps',
    (call) =>
      call('POST', `${T}/apps`, {
        body: { slug: 'sleeper', name: 'S', command: ['sleep', '300'], env: { TOKEN: 'x' } },
      }),
  ],
  [
    'patch /v1/tenants/{tenant}/apps/{app}',
    (call) => call('PATCH', `${T}/apps/sleeper`, { body: { name: 'Sleeper' } }),
  ],
  [
    'put /v1/tenants/{tenant}/transfer-policy',
    (call) =>
      call('PUT', `${T}/transfer-policy`, {
        body: { clipboard: false, files: true, maxFileBytes: 1024, maxHomeBytes: null },
      }),
  ],
  [
    'put /v1/tenants/{tenant}/apps/{app}/transfer-policy',
    (call) =>
      call('PUT', `${T}/apps/sleeper/transfer-policy`, {
        body: { clipboard: true, files: false, maxFileBytes: null, maxHomeBytes: null },
      }),
  ],
  [
    'post /v1/tenants/{tenant}/api-keys',
    async (call) => {
      const r = await call('POST', `${T}/api-keys`, { body: { name: 'k', role: 'tenant-admin' } });
      ids.key = r.body.id;
      return r;
    },
  ],
  [
    'delete /v1/tenants/{tenant}/api-keys/{key}',
    (call) => call('DELETE', `${T}/api-keys/${ids.key}`),
  ],
  [
    'post /v1/api-keys',
    async (call) => {
      const r = await call('POST', '/v1/api-keys', { body: { name: 'gw', role: 'gateway' } });
      ids.platformKey = r.body.id;
      return r;
    },
  ],
  ['delete /v1/api-keys/{key}', (call) => call('DELETE', `/v1/api-keys/${ids.platformKey}`)],
  [
    'post /v1/clusters',
    (call) =>
      call('POST', '/v1/clusters', { body: { name: 'spare', region: 'spare', driver: 'local' } }),
  ],
  [
    'patch /v1/clusters/{cluster}',
    (call) => call('PATCH', '/v1/clusters/spare', { body: { labels: { a: 'b' } } }),
  ],
  ['delete /v1/clusters/{cluster}', (call) => call('DELETE', '/v1/clusters/spare')],
  [
    'put /v1/tenants/{tenant}/identity-provider',
    (call) =>
      call('PUT', `${T}/identity-provider`, {
        body: { issuer: 'https://login.cov.example', clientId: 'c', clientSecret: 's3cret' },
      }),
  ],
  [
    'delete /v1/tenants/{tenant}/identity-provider',
    (call) => call('DELETE', `${T}/identity-provider`),
  ],
  [
    'post /v1/tenants/{tenant}/webhooks',
    async (call) => {
      const r = await call('POST', `${T}/webhooks`, {
        body: { url: 'https://hooks.cov.example/in', eventTypes: ['session.*'] },
      });
      ids.webhook = r.body.id;
      return r;
    },
  ],
  [
    'patch /v1/tenants/{tenant}/webhooks/{webhook}',
    (call) => call('PATCH', `${T}/webhooks/${ids.webhook}`, { body: { description: 'd' } }),
  ],
  [
    'post /v1/tenants/{tenant}/sessions',
    async (call) => {
      const r = await call('POST', `${T}/sessions`, {
        body: { app: 'sleeper', user: 'u@cov.test' },
      });
      ids.session = r.body.id;
      return r;
    },
  ],
  [
    'post /v1/tenants/{tenant}/sessions/{session}/grants',
    async (call) => {
      const r = await call('POST', `${T}/sessions/${ids.session}/grants`, {
        body: { kind: 'link', role: 'viewer' },
      });
      ids.grant = r.body.id;
      return r;
    },
  ],
  [
    'delete /v1/tenants/{tenant}/sessions/{session}/grants/{grant}',
    (call) => call('DELETE', `${T}/sessions/${ids.session}/grants/${ids.grant}`),
  ],
  [
    'post /v1/gateway/sessions/{session}/viewer-actions',
    async (call) => {
      const session = await call('GET', `${T}/sessions/${ids.session}`);
      const users = await call('GET', `${T}/users`);
      return call('POST', `/v1/gateway/sessions/${ids.session}/viewer-actions`, {
        body: { action: 'give-control', by: session.body.userId, viewer: users.body.items[0].id },
      });
    },
  ],
  [
    'post /v1/gateway/sessions/{session}/joins',
    async (call) => {
      const users = await call('GET', `${T}/users`);
      return call('POST', `/v1/gateway/sessions/${ids.session}/joins`, {
        body: { userId: users.body.items[0].id, role: 'viewer', grantId: ids.grant },
      });
    },
  ],
  [
    'post /v1/tenants/{tenant}/webhooks/{webhook}/deliveries/{delivery}/redeliver',
    async (call) => {
      const log = await call('GET', `${T}/webhooks/${ids.webhook}/deliveries`);
      return call(
        'POST',
        `${T}/webhooks/${ids.webhook}/deliveries/${log.body.items[0].id}/redeliver`,
      );
    },
  ],
  [
    'delete /v1/tenants/{tenant}/sessions/{session}',
    async (call) => {
      const r = await call('DELETE', `${T}/sessions/${ids.session}`);
      await eventually(async () => {
        const s = await call('GET', `${T}/sessions/${ids.session}`);
        return s.body.state === 'stopped';
      });
      return r;
    },
  ],
  [
    'delete /v1/tenants/{tenant}/webhooks/{webhook}',
    (call) => call('DELETE', `${T}/webhooks/${ids.webhook}`),
  ],
  ['delete /v1/tenants/{tenant}/apps/{app}', (call) => call('DELETE', `${T}/apps/sleeper`)],
  ['delete /v1/tenants/{tenant}/users/{user}', (call) => call('DELETE', `${T}/users/u@cov.test`)],
  ['delete /v1/tenants/{tenant}', (call) => call('DELETE', T)],
];

/**
 * Writes that change nothing of a tenant's or the platform's: the gateway replicas' shared
 * bookkeeping of cookie renewals (a row that lives a minute). Auditing them would record
 * every active user every few minutes and say nothing an admin did.
 */
const NOT_AUDITED = ['post /v1/gateway/renewals/{key}', 'put /v1/gateway/renewals/{key}'];

describe('every write route is audited', () => {
  let t: TestControlPlane;
  beforeAll(async () => {
    t = await startTestControlPlane({
      ...(await freshDatabase('pglite')),
      FLOE_WEBHOOK_WORKER: 'off',
    });
  });
  afterAll(() => t?.close());

  it('lists every write operation of the OpenAPI document', async () => {
    const doc = (await t.call('GET', '/openapi.json', { token: null })).body;
    const writes = Object.entries(doc.paths as Record<string, Record<string, unknown>>)
      .flatMap(([path, ops]) =>
        Object.keys(ops)
          .filter((m) => ['post', 'put', 'patch', 'delete'].includes(m))
          .map((m) => `${m} ${path}`),
      )
      .sort();
    expect([...WRITES.map(([op]) => op), ...NOT_AUDITED].sort()).toEqual(writes);
  });

  it('leaves an audit entry with the request id of each', async () => {
    for (const [op, write] of WRITES) {
      const res = await write(t.call, t);
      expect(res.status, `${op}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
      const requestId = res.headers.get('x-request-id');
      expect(requestId, op).toBeTruthy();
      const log = await t.call('GET', '/v1/audit-log?limit=20');
      const entry = log.body.items.find(
        (e: { request: { id: string } }) => e.request.id === requestId,
      );
      expect(entry, `${op} left no audit entry`).toBeDefined();
      expect(entry.actor).toMatchObject({ type: 'admin-token', role: 'platform-admin' });
      // no secret reaches the log
      expect(JSON.stringify(entry)).not.toMatch(/s3cret|floe_[A-Za-z0-9_-]{20}|whsec_|"x"/);
    }
  });
});
