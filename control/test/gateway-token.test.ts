// FLOE_GATEWAY_TOKEN: a gateway key from the configuration (the Helm chart sets it on the
// control plane and the gateways alike), fenced exactly like a gateway API key.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import {
  ADMIN_TOKEN,
  freshDatabase,
  seedTenant,
  startTestControlPlane,
  type TestControlPlane,
} from './harness.ts';

const GATEWAY_TOKEN = 'configured-gateway-token-0123456789';

describe('a configured gateway token', () => {
  let t: TestControlPlane;
  beforeAll(async () => {
    t = await startTestControlPlane({
      ...(await freshDatabase('pglite')),
      FLOE_GATEWAY_TOKEN: GATEWAY_TOKEN,
    });
    await seedTenant(t, { slug: 'acme' });
  });
  afterAll(() => t?.close());

  it("reaches the gateway's routes as role gateway", async () => {
    const me = await t.call('GET', '/v1/me', { token: GATEWAY_TOKEN });
    expect(me.status).toBe(200);
    expect(me.body).toEqual({ role: 'gateway', tenant: null, user: null });
    const tenant = await t.call('GET', '/v1/gateway/tenants/acme', { token: GATEWAY_TOKEN });
    expect(tenant.status).toBe(200);
    expect(tenant.body).toMatchObject({ tenant: { slug: 'acme' }, identityProvider: null });
  });

  it("reaches no tenant's resources and no platform route", async () => {
    for (const path of ['/v1/tenants', '/v1/tenants/acme/apps', '/v1/api-keys', '/v1/clusters']) {
      const r = await t.call('GET', path, { token: GATEWAY_TOKEN });
      expect(r.status, path).toBe(403);
    }
    const made = await t.call('POST', '/v1/api-keys', {
      token: GATEWAY_TOKEN,
      body: { name: 'x', role: 'platform-admin' },
    });
    expect(made.status).toBe(403);
  });

  it('is refused when it differs by a character, and leaves the admin token as it was', async () => {
    const wrong = await t.call('GET', '/v1/me', { token: `${GATEWAY_TOKEN}x` });
    expect(wrong.status).toBe(401);
    const admin = await t.call('GET', '/v1/me', { token: ADMIN_TOKEN });
    expect(admin.body).toMatchObject({ role: 'platform-admin' });
  });

  it('must be long and differ from the admin token', () => {
    expect(() => loadConfig({ FLOE_GATEWAY_TOKEN: 'short' })).toThrow(
      /FLOE_GATEWAY_TOKEN: must be at least 16 characters/,
    );
    expect(() =>
      loadConfig({ FLOE_ADMIN_TOKEN: GATEWAY_TOKEN, FLOE_GATEWAY_TOKEN: GATEWAY_TOKEN }),
    ).toThrow(/FLOE_GATEWAY_TOKEN: must differ from FLOE_ADMIN_TOKEN/);
  });
});
