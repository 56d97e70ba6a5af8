/**
 * The stand-in API of the page tests answers in the control plane's shapes: each object it
 * serves passes the control plane's own response schemas (control/src/http/schemas.ts), so the
 * pages are tested against what the real server sends.
 */
import { describe, expect, it } from 'vitest';
import { AuditEntry } from '../../control/src/http/audit-schemas.ts';
import {
  ApiKey,
  App,
  Cluster,
  IdentityProvider,
  Me,
  QuotaEventList,
  Session,
  Tenant,
  Usage,
  User,
} from '../../control/src/http/schemas.ts';
import {
  WebhookDelivery,
  WebhookEndpoint,
  WebhookEndpointCreated,
} from '../../control/src/http/webhook-schemas.ts';
import { SESSION_STATES } from '../src/app/types.ts';
import { defaultData, startStandIn } from './stand-in-api.ts';

describe('the stand-in API', () => {
  it('serves objects the control plane’s schemas accept', async () => {
    const data = defaultData('tenant-admin');
    for (const t of data.tenants) Tenant.parse(t);
    for (const u of data.users) User.parse(u);
    for (const a of data.apps) App.parse(a);
    for (const k of data.apiKeys) ApiKey.parse(k);
    for (const c of data.clusters) Cluster.parse(c);
    for (const e of data.auditLog) AuditEntry.parse(e);
    const standIn = await startStandIn('/nonexistent', { data });
    try {
      for (const state of SESSION_STATES) Session.parse(standIn.seedSession('blender', state));
      const usage = await fetch(`${standIn.url}/api/v1/tenants/acme/usage`).then((r) => r.json());
      Usage.parse(usage);
      standIn.data.quotaEvents = [
        {
          type: 'quota.exceeded',
          quota: 'tenant.gpuHoursPerMonth',
          periodStart: '2026-12-01T00:00:00.000Z',
          data: { limitHours: 1, usedHours: 1.2, action: 'stop' },
          at: '2026-12-05T10:00:00.000Z',
        },
      ];
      const events = await fetch(`${standIn.url}/api/v1/tenants/acme/quota-events`);
      expect(QuotaEventList.parse(await events.json()).items).toHaveLength(1);
      Me.parse(await fetch(`${standIn.url}/api/v1/me`).then((r) => r.json()));
      const headers = {
        'content-type': 'application/json',
        cookie: `floe_csrf=${standIn.csrf}`,
        'x-csrf-token': standIn.csrf,
      };
      const idp = await fetch(`${standIn.url}/api/v1/tenants/acme/identity-provider`, {
        method: 'PUT',
        headers,
        body: JSON.stringify({
          issuer: 'https://login.example.com',
          clientId: 'floe',
          clientSecret: 's',
          rolesClaim: 'floe_roles',
          adminRoles: ['tenant-admin'],
          hostnames: [],
        }),
      }).then((r) => r.json());
      expect(IdentityProvider.parse(idp)).toMatchObject({ hasClientSecret: true });
      const hook = await fetch(`${standIn.url}/api/v1/tenants/acme/webhooks`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ url: 'https://hooks.example.com/x', eventTypes: ['session.*'] }),
      }).then((r) => r.json());
      WebhookEndpointCreated.parse(hook);
      const hooks = await fetch(`${standIn.url}/api/v1/tenants/acme/webhooks`).then((r) =>
        r.json(),
      );
      for (const w of hooks.items) WebhookEndpoint.parse(w);
      const now = new Date().toISOString();
      WebhookDelivery.parse({
        ...{ id: hook.id, eventId: hook.id, endpointId: hook.id, eventType: 'session.running' },
        ...{ state: 'succeeded', attempts: 1, nextAttemptAt: null, lastAttemptAt: now },
        ...{ lastStatus: 204, lastError: null, deliveredAt: now, createdAt: now, payload: {} },
      } satisfies import('../src/app/types.ts').WebhookDelivery);
      const sessions = await fetch(
        `${standIn.url}/api/v1/tenants/acme/sessions?state=active&limit=2`,
      ).then((r) => r.json());
      expect(sessions.items).toHaveLength(2);
      expect(sessions.nextCursor).toBe(sessions.items[1].id);
      for (const s of sessions.items) Session.parse(s);
    } finally {
      await standIn.close();
    }
  });

  it('refuses state changes without the CSRF token', async () => {
    const standIn = await startStandIn('/nonexistent');
    try {
      const res = await fetch(`${standIn.url}/api/v1/tenants/acme/sessions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ app: 'blender' }),
      });
      expect(res.status).toBe(403);
    } finally {
      await standIn.close();
    }
  });
});
