// An app's video codec preference (migration 0016): stored and shown as sent, changed and
// cleared by PATCH, refused with a 400 naming the field when it is no preference, and
// changed by no one outside the app's tenant. The streamer reads it as FLOE_STREAMER_CODECS
// (control/src/drivers: the pod's spec.streamer.codecs, the local runner's env).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freshDatabase,
  seedTenant,
  startTestControlPlane,
  type TestControlPlane,
} from './harness.ts';

let t: TestControlPlane;
let globexAdmin: string;
let acmeAdmin: string;

async function key(tenant: string) {
  const r = await t.call('POST', `/v1/tenants/${tenant}/api-keys`, {
    body: { name: 'ops', role: 'tenant-admin' },
  });
  expect(r.status).toBe(201);
  return r.body.token as string;
}

beforeAll(async () => {
  t = await startTestControlPlane(await freshDatabase('postgres'));
  await seedTenant(t, { slug: 'acme' });
  await seedTenant(t, { slug: 'globex' });
  acmeAdmin = await key('acme');
  globexAdmin = await key('globex');
});
afterAll(async () => t?.close());

const app = (slug: string, videoCodecs: unknown) => ({
  slug,
  name: slug,
  command: ['xterm'],
  videoCodecs,
});

describe('an app’s video codec preference', () => {
  it('is stored and shown as sent, changed and cleared by PATCH, and null when not sent', async () => {
    const created = await t.call('POST', '/v1/tenants/acme/apps', {
      body: app('cad', ['AV1', 'VP9', 'H264']),
      token: acmeAdmin,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.videoCodecs).toEqual(['AV1', 'VP9', 'H264']);
    const read = await t.call('GET', '/v1/tenants/acme/apps/cad', { token: acmeAdmin });
    expect(read.body.videoCodecs).toEqual(['AV1', 'VP9', 'H264']);

    const patched = await t.call('PATCH', '/v1/tenants/acme/apps/cad', {
      body: { videoCodecs: ['VP8'] },
    });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    expect(patched.body.videoCodecs).toEqual(['VP8']);
    // a PATCH of something else keeps it
    await t.call('PATCH', '/v1/tenants/acme/apps/cad', { body: { name: 'CAD' } });
    expect((await t.call('GET', '/v1/tenants/acme/apps/cad')).body.videoCodecs).toEqual(['VP8']);
    const cleared = await t.call('PATCH', '/v1/tenants/acme/apps/cad', {
      body: { videoCodecs: null },
    });
    expect(cleared.body.videoCodecs).toBeNull();

    const plain = await t.call('POST', '/v1/tenants/acme/apps', { body: app('plain', undefined) });
    expect(plain.body.videoCodecs).toBeNull();
  });

  it.each([
    ['a codec the streamer cannot encode', ['H265'], 'videoCodecs.0'],
    ['lower case', ['av1'], 'videoCodecs.0'],
    ['an empty list', [], 'videoCodecs'],
    ['a codec twice', ['VP9', 'VP9'], 'videoCodecs'],
    ['a string instead of a list', 'AV1,VP9', 'videoCodecs'],
  ])('refuses %s with a 400 naming it', async (_, videoCodecs, path) => {
    const r = await t.call('POST', '/v1/tenants/acme/apps', { body: app('bad', videoCodecs) });
    expect(r.status, JSON.stringify(r.body)).toBe(400);
    expect(r.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
    const p = await t.call('PATCH', '/v1/tenants/acme/apps/plain', { body: { videoCodecs } });
    expect(p.status, JSON.stringify(p.body)).toBe(400);
  });

  it('is neither read nor changed by another tenant’s admin', async () => {
    const read = await t.call('GET', '/v1/tenants/acme/apps/cad', { token: globexAdmin });
    expect(read.status).toBe(404); // another tenant’s apps do not exist for it
    const write = await t.call('PATCH', '/v1/tenants/acme/apps/cad', {
      body: { videoCodecs: ['AV1'] },
      token: globexAdmin,
    });
    expect(write.status).toBe(404);
    expect((await t.call('GET', '/v1/tenants/acme/apps/cad')).body.videoCodecs).toBeNull();
  });
});
