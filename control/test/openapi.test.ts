// /openapi.json says what the API does: each rule the server holds a request to is in the
// document (or the server keeps to the document), on both databases. What an attack with
// schemathesis found, one test each; control/test/schemathesis.test.ts runs schemathesis itself.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES } from '../src/api.ts';
import {
  ADMIN_TOKEN,
  DATABASES,
  freshDatabase,
  seedTenant,
  startTestControlPlane,
  type TestControlPlane,
} from './harness.ts';

// biome-ignore lint/suspicious/noExplicitAny: an OpenAPI document, read as JSON
type Json = any;

/** fetch refuses TRACE: a request through node:http, as a client on the network sends it */
function raw(url: string, method: string) {
  return new Promise<{ status: number; allow?: string; code: string }>((resolve, reject) => {
    const req = request(url, { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    req.on('error', reject);
    req.on('response', (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        const allow = res.headers.allow;
        resolve({ status: res.statusCode ?? 0, allow, code: JSON.parse(text).error.code });
      });
    });
    req.end();
  });
}

describe.each(DATABASES)('the OpenAPI contract on %s', (kind) => {
  let t: TestControlPlane;
  let spec: Json;

  beforeAll(async () => {
    t = await startTestControlPlane(await freshDatabase(kind));
    await seedTenant(t, { slug: 'acme', quotas: { maxSessions: 0 } });
    spec = (await t.call('GET', '/openapi.json', { token: null })).body;
  });
  afterAll(() => t?.close());

  const operations = () =>
    Object.entries(spec.paths as Record<string, Record<string, Json>>).flatMap(([path, item]) =>
      Object.entries(item).map(([method, op]) => ({ path, method, op })),
    );

  it('lets /v1/me say tenant: null and user: null, as it answers for the platform admin', async () => {
    const me = await t.call('GET', '/v1/me');
    expect(me.body).toEqual({ role: 'platform-admin', tenant: null, user: null });
    const tenant = spec.components.schemas.Me.properties.tenant;
    // .nullable() on a named schema rendered allOf [TenantRef, {type: [object, null]}]: no null
    expect(tenant).toEqual({
      anyOf: [{ $ref: '#/components/schemas/TenantRef' }, { type: 'null' }],
    });
    expect(JSON.stringify(spec)).not.toMatch(/"allOf":\[\{"\$ref":"[^"]+"\},\{"type":\[/);
  });

  it('documents 413 and 415 on every operation that takes a body, and answers them', async () => {
    const withBody = operations().filter(({ op }) => op.requestBody);
    expect(withBody.length).toBeGreaterThan(10);
    for (const { path, method, op } of withBody) {
      expect(Object.keys(op.responses), `${method} ${path}`).toEqual(
        expect.arrayContaining(['400', '413', '415']),
      );
    }
    const big = await t.call('POST', '/v1/tenants', {
      body: { slug: 'big', name: 'x'.repeat(MAX_BODY_BYTES) },
    });
    expect(big.status).toBe(413);
    const text = await t.call('POST', '/v1/tenants', {
      body: 'slug=x',
      headers: { 'content-type': 'text/plain' },
    });
    expect(text.status).toBe(415);
  });

  it('says in each path parameter that control characters are refused, and refuses them', async () => {
    const pathParams = operations().flatMap(({ op }) =>
      (op.parameters ?? []).filter((p: Json) => p.in === 'path'),
    );
    expect(pathParams.length).toBeGreaterThan(20);
    for (const p of pathParams) expect(p.schema.pattern, p.name).toBeDefined();
    const pattern = new RegExp(pathParams[0].schema.pattern);
    expect(pattern.test('acme')).toBe(true);
    expect(pattern.test('ac\nme')).toBe(false);
    expect(pattern.test('ac\x7fme')).toBe(false);
    const r = await t.call('GET', '/v1/clusters/lo%0Acal');
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/control characters/);
  });

  it('refuses a PATCH, PUT or POST without a body with 400, and changes nothing', async () => {
    const before = (await t.call('GET', '/v1/tenants/acme')).body;
    for (const [method, path] of [
      ['PATCH', '/v1/tenants/acme'],
      ['PATCH', '/v1/tenants/acme/apps/sleeper'],
      ['PUT', '/v1/tenants/acme/identity-provider'],
      ['POST', '/v1/tenants/acme/users'],
    ]) {
      const res = await fetch(t.url + path, {
        method,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      expect(res.status, `${method} ${path}`).toBe(400);
      expect((await res.json()).error.message).toMatch(/body is required/);
    }
    // an empty JSON body is not a body either
    const empty = await t.call('PATCH', '/v1/tenants/acme', {
      headers: { 'content-type': 'application/json' },
    });
    expect(empty.status).toBe(400);
    expect((await t.call('GET', '/v1/tenants/acme')).body).toEqual(before);
  });

  it('answers a method a path does not take with 405 and Allow, an unknown path with 404', async () => {
    for (const method of ['TRACE', 'PUT', 'OPTIONS']) {
      const r = await raw(`${t.url}/v1/tenants`, method);
      expect(r, method).toEqual({
        status: 405,
        allow: 'GET, HEAD, POST',
        code: 'method_not_allowed',
      });
    }
    expect(await raw(`${t.url}/v1/tenants/acme/apps/sleeper`, 'TRACE')).toMatchObject({
      status: 405,
      allow: 'DELETE, GET, HEAD, PATCH',
    });
    expect(await raw(`${t.url}/v1/no-such-thing`, 'TRACE')).toMatchObject({ status: 404 });
    expect((await t.call('GET', '/v1/me/')).status).toBe(404);
  });

  it('checks a name’s length as sent, refuses a blank one and stores it trimmed', async () => {
    const padded = `${' '.repeat(10)}${'n'.repeat(195)}`; // 205 as sent, 195 trimmed
    const long = await t.call('POST', '/v1/tenants', { body: { slug: 'pad', name: padded } });
    expect(long.status).toBe(400);
    expect(long.body.error.details[0].path).toBe('name');
    const blank = await t.call('POST', '/v1/tenants', { body: { slug: 'blank', name: '   ' } });
    expect(blank.status).toBe(400);
    expect(blank.body.error.message).toMatch(/name: not blank/);
    const ok = await t.call('POST', '/v1/tenants', { body: { slug: 'trim', name: '  Trim  ' } });
    expect(ok.status).toBe(201);
    expect(ok.body.name).toBe('Trim');
    const name = spec.components.schemas.TenantCreate.properties.name;
    expect(name).toMatchObject({ minLength: 1, maxLength: 200, pattern: '\\S' });
  });

  it('sends Retry-After with a quota’s 429, as the document says', async () => {
    const r = await t.call('POST', '/v1/tenants/acme/sessions', {
      body: { app: 'sleeper', user: 'user@acme.test' },
    });
    expect(r.status).toBe(429);
    expect(r.body.error.quota).toBe('tenant.maxSessions');
    expect(r.headers.get('retry-after')).toBe('30');
    const doc = spec.paths['/v1/tenants/{tenant}/sessions'].post.responses['429'];
    expect(doc.headers['Retry-After']).toMatchObject({ required: true });
  });
});
