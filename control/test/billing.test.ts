// Billing on both databases: usage records derived from session events and split at period
// boundaries, rate cards, periods frozen by the database once closed, late usage as an
// adjustment, and streamed exports (read back with pyarrow), tenant isolation, bad input.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePyarrow, readParquet } from '@floe/testbed';
import { and, eq, sql } from 'drizzle-orm';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { closeDuePeriods, dueForClosing } from '../src/billing/auto-close.ts';
import { encoder } from '../src/billing/export/encode.ts';
import { ROW_GROUP_ROWS } from '../src/billing/export/parquet.ts';
import { BATCH_ROWS, exportBatches, exportStream } from '../src/billing/export/read.ts';
import { queryRows } from '../src/db/connect.ts';
import { auditLog, billingPeriods, sessionEvents, sessions } from '../src/db/schema.ts';
import { createLogger } from '../src/log.ts';
import { sqlState } from '../src/routes/db-errors.ts';
import {
  ADMIN_TOKEN,
  DATABASES,
  freshDatabase,
  seedTenant,
  startTestControlPlane,
  type TestControlPlane,
} from './harness.ts';

describe.each(DATABASES)('billing on %s', (kind) => {
  let t: TestControlPlane;
  let acme: Awaited<ReturnType<typeof seedTenant>>;
  let globex: Awaited<ReturnType<typeof seedTenant>>;
  let acmeAdmin: string;
  let acmeMember: string;
  let globexAdmin: string;

  const db = () => t.cp.database.db;

  async function key(tenant: string, body: Record<string, unknown>) {
    const r = await t.call('POST', `/v1/tenants/${tenant}/api-keys`, { body });
    expect(r.status).toBe(201);
    return r.body.token as string;
  }

  /** a session that ran [from, to) (to null: still running), written as its events */
  async function ran(
    who: Awaited<ReturnType<typeof seedTenant>>,
    from: string,
    to: string | null,
    gpu: { sku: string; count: number } | null = null,
  ) {
    const id = uuidv7();
    await db()
      .insert(sessions)
      .values({
        id,
        tenantId: who.tenant.id,
        userId: who.user.id,
        appId: who.app.id,
        clusterId: t.cp.localClusterId,
        state: to ? 'stopped' : 'running',
        gpuSku: gpu?.sku ?? null,
        gpuCount: gpu?.count ?? 0,
      });
    const at = (s: string, ms = 0) => new Date(Date.parse(s) + ms);
    const events = [
      { fromState: null, toState: 'requested' as const, at: at(from, -2000) },
      { fromState: 'requested' as const, toState: 'placed' as const, at: at(from, -1000) },
      { fromState: 'placed' as const, toState: 'running' as const, at: at(from) },
      ...(to ? [{ fromState: 'running' as const, toState: 'stopped' as const, at: at(to) }] : []),
    ];
    await db()
      .insert(sessionEvents)
      .values(events.map((e) => ({ ...e, sessionId: id, tenantId: who.tenant.id })));
    return id;
  }

  async function download(path: string, token = acmeAdmin, headers: Record<string, string> = {}) {
    const res = await fetch(t.url + path, {
      headers: { authorization: `Bearer ${token}`, ...headers },
    });
    return {
      status: res.status,
      headers: res.headers,
      bytes: Buffer.from(await res.arrayBuffer()),
    };
  }

  beforeAll(async () => {
    ensurePyarrow(); // installed once, before any request (not while a socket idles)
    t = await startTestControlPlane(await freshDatabase(kind));
    acme = await seedTenant(t, { slug: 'acme', app: { gpu: undefined, class: 'workstation' } });
    globex = await seedTenant(t, { slug: 'globex' });
    acmeAdmin = await key('acme', { name: 'ops', role: 'tenant-admin' });
    acmeMember = await key('acme', { name: 'ada', role: 'member', user: 'user@acme.test' });
    globexAdmin = await key('globex', { name: 'ops', role: 'tenant-admin' });
    // September into October (split at midnight UTC), with two GPUs
    await ran(acme, '2025-09-30T23:00:00Z', '2025-10-01T01:00:00Z', { sku: 'nvidia-l4', count: 2 });
    await ran(acme, '2025-10-10T10:00:00Z', '2025-10-10T11:30:00Z');
    await ran(globex, '2025-10-05T08:00:00Z', '2025-10-05T09:00:00Z');
  });
  afterAll(() => t?.close());

  it('manages rate cards: a platform default and tenant overrides, in exact decimals', async () => {
    const bad = await t.call('POST', '/v1/billing/rate-cards', {
      body: { currency: 'EUR', effectiveFrom: '2025-01-01T00:00:00Z', sessionHour: 0.5 },
    });
    expect(bad.status).toBe(400);
    const float = await t.call('POST', '/v1/billing/rate-cards', {
      body: { currency: 'EUR', effectiveFrom: '2025-01-01T00:00:00Z', sessionHour: '0.1234567' },
    });
    expect(float.status).toBe(400);
    expect(float.body.error.message).toMatch(/up to 6 decimals/);
    const base = await t.call('POST', '/v1/billing/rate-cards', {
      body: {
        currency: 'EUR',
        effectiveFrom: '2025-01-01T00:00:00Z',
        sessionHour: '0.50',
        gpuHour: { 'nvidia-l4': '2.00' },
      },
    });
    expect(base.status).toBe(201);
    expect(base.body).toMatchObject({ tenantId: null, sessionHour: '0.500000' });
    const again = await t.call('POST', '/v1/billing/rate-cards', {
      body: { currency: 'EUR', effectiveFrom: '2025-01-01T00:00:00Z', sessionHour: '1' },
    });
    expect(again.status).toBe(409);
    // acme pays 0.60 an hour for its app from October on
    const override = await t.call('POST', '/v1/tenants/acme/billing/rate-cards', {
      body: {
        currency: 'EUR',
        effectiveFrom: '2025-10-01T00:00:00Z',
        sessionHour: '0.40',
        appSessionHour: { sleeper: '0.60' },
        gpuHour: { 'nvidia-l4': '2.50' },
      },
    });
    expect(override.status).toBe(201);
    // only a platform admin sets prices; a tenant admin reads its own effective card
    const denied = await t.call('POST', '/v1/tenants/acme/billing/rate-cards', {
      token: acmeAdmin,
      body: { currency: 'EUR', effectiveFrom: '2026-01-01T00:00:00Z', sessionHour: '0' },
    });
    expect(denied.status).toBe(403);
    const effective = await t.call(
      'GET',
      '/v1/tenants/acme/billing/rate-card?at=2025-09-15T00:00:00Z',
      {
        token: acmeAdmin,
      },
    );
    expect(effective.body.card.id).toBe(base.body.id);
    const now = await t.call('GET', '/v1/tenants/acme/billing/rate-card', { token: acmeAdmin });
    expect(now.body.card.id).toBe(override.body.id);
    expect(
      (await t.call('GET', '/v1/tenants/globex/billing/rate-card', { token: acmeAdmin })).status,
    ).toBe(404);
    expect(
      (await t.call('GET', '/v1/tenants/acme/billing/rate-card', { token: acmeMember })).status,
    ).toBe(403);
    // a card in force cannot be removed; one still to come can
    expect((await t.call('DELETE', `/v1/billing/rate-cards/${base.body.id}`)).status).toBe(409);
    const future = await t.call('POST', '/v1/billing/rate-cards', {
      body: { currency: 'EUR', effectiveFrom: '2999-01-01T00:00:00Z', sessionHour: '9' },
    });
    expect((await t.call('DELETE', `/v1/billing/rate-cards/${future.body.id}`)).status).toBe(204);
  });

  it('derives usage records per session and period, split at the boundary and priced', async () => {
    const periods = await t.call('GET', '/v1/tenants/acme/billing/periods', { token: acmeAdmin });
    expect(periods.status).toBe(200);
    const labels = periods.body.items.map((p: { label: string }) => p.label);
    expect(labels.at(-1)).toBe('2025-09');
    expect(labels).toContain('2025-10');
    const sept = await t.call('GET', '/v1/tenants/acme/billing/periods/2025-09', {
      token: acmeAdmin,
    });
    // one hour of the session, two GPUs, on the default card: 0.50 + 2 × 2.00
    expect(sept.body.period.totals).toEqual({
      records: 1,
      sessionSeconds: '3600.000',
      gpuSeconds: '7200.000',
      amount: '4.500000',
      currency: 'EUR',
    });
    const oct = await t.call('GET', '/v1/tenants/acme/billing/periods/2025-10', {
      token: acmeAdmin,
    });
    // the session's second hour (0.60 + 2 × 2.50) and 1.5 h of the other (0.90)
    expect(oct.body.period.totals).toMatchObject({
      records: 2,
      sessionSeconds: '9000.000',
      gpuSeconds: '7200.000',
      amount: '6.500000',
    });
    expect(oct.body.bySku).toEqual([
      expect.objectContaining({ key: '', sessionSeconds: '5400.000' }),
      expect.objectContaining({ key: 'nvidia-l4', gpuSeconds: '7200.000', amount: '5.600000' }),
    ]);
    expect(oct.body.byUser).toEqual([
      expect.objectContaining({ key: 'user@acme.test', records: 2 }),
    ]);
    expect(oct.body.byDay.map((d: { key: string }) => d.key)).toEqual(['2025-10-01', '2025-10-10']);
    // usage per period agrees with the quota's own account of the same events
    const usage = await t.call(
      'GET',
      '/v1/tenants/acme/usage?from=2025-10-01T00:00:00Z&to=2025-11-01T00:00:00Z',
      { token: acmeAdmin },
    );
    expect(usage.body.totals).toEqual({ sessionSeconds: 9000, gpuSeconds: 7200 });
  });

  it('closes periods in order, and the database refuses any change to a closed one', async () => {
    const early = await t.call('POST', '/v1/tenants/acme/billing/periods/2025-10/close');
    expect(early.status).toBe(409);
    expect(early.body.error.message).toBe('close period 2025-09 first');
    const byTenant = await t.call('POST', '/v1/tenants/acme/billing/periods/2025-09/close', {
      token: acmeAdmin,
    });
    expect(byTenant.status).toBe(403);
    expect((await t.call('POST', '/v1/tenants/acme/billing/periods/2025-09/close')).status).toBe(
      200,
    );
    const closed = await t.call('POST', '/v1/tenants/acme/billing/periods/2025-10/close');
    expect(closed.status).toBe(200);
    expect(closed.body).toMatchObject({ state: 'closed', totals: { amount: '6.500000' } });
    expect((await t.call('POST', '/v1/tenants/acme/billing/periods/2025-10/close')).status).toBe(
      409,
    );
    const current = (await t.call('GET', '/v1/tenants/acme/billing/periods')).body.items[0].label;
    const notOver = await t.call('POST', `/v1/tenants/acme/billing/periods/${current}/close`);
    expect(notOver.status).toBe(409);
    expect((await t.call('POST', '/v1/tenants/acme/billing/periods/1999-01/close')).status).toBe(
      404,
    );

    const octId = closed.body.id;
    const refused = async (query: ReturnType<typeof sql>) => {
      const err = await db()
        .execute(query)
        .then(() => null)
        .catch((e: unknown) => e);
      expect(sqlState(err)).toBe('55000');
    };
    await refused(sql`update usage_records set amount = 0 where period_id = ${octId}`);
    await refused(sql`delete from usage_records where period_id = ${octId}`);
    await refused(sql`insert into usage_records (period_id, tenant_id, kind, session_id, user_id,
        user_email, app_id, app_slug, gpu_count, slice_start, slice_end, session_seconds,
        gpu_seconds, currency, amount)
      values (${octId}, ${acme.tenant.id}, 'usage', ${uuidv7()}, ${acme.user.id}, 'x', ${acme.app.id},
        'x', 0, now(), now(), 1, 0, 'EUR', 1)`);
    await refused(sql`update billing_periods set totals = null where id = ${octId}`);
    await refused(sql`delete from billing_periods where id = ${octId}`);
    await refused(sql`truncate usage_records`);
  });

  it('books usage that arrives late for a closed period as an adjustment in the next open one', async () => {
    // a cluster that was unreachable reports half an hour of October after it closed
    const late = await ran(acme, '2025-10-20T00:00:00Z', '2025-10-20T00:30:00Z');
    const oct = await t.call('GET', '/v1/tenants/acme/billing/periods/2025-10', {
      token: acmeAdmin,
    });
    expect(oct.body.period.totals.amount).toBe('6.500000');
    const nov = await t.call('GET', '/v1/tenants/acme/billing/periods/2025-11', {
      token: acmeAdmin,
    });
    expect(nov.body.period.totals).toMatchObject({ records: 1, sessionSeconds: '1800.000' });
    const rows = await queryRows<{ kind: string; adjusts: string }>(
      db(),
      sql`select r.kind, p.label as adjusts from usage_records r
        join billing_periods p on p.id = r.adjusts_period_id where r.session_id = ${late}`,
    );
    expect(rows).toEqual([{ kind: 'adjustment', adjusts: '2025-10' }]);
    // derived again, the adjustment is not booked twice
    await t.call('GET', '/v1/tenants/acme/billing/periods', { token: acmeAdmin });
    const again = await t.call('GET', '/v1/tenants/acme/billing/periods/2025-11', {
      token: acmeAdmin,
    });
    expect(again.body.period.totals.records).toBe(1);
  });

  it('exports a closed period as CSV, JSON Lines and Parquet, byte-identical every time', async () => {
    const csv = await download('/v1/tenants/acme/billing/export?period=2025-10&format=csv');
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(csv.headers.get('content-disposition')).toBe(
      'attachment; filename="floe-usage-acme-2025-10.csv"',
    );
    const etag = csv.headers.get('etag');
    expect(etag).toMatch(/^".+"$/);
    const lines = csv.bytes.toString('utf8').split('\r\n');
    expect(lines[0]).toBe(
      'record_id,kind,tenant_id,tenant_slug,period,period_start,period_end,adjusts_period,' +
        'session_id,user_id,user_email,app_id,app_slug,app_class,cluster_id,cluster_name,region,gpu_sku,' +
        'gpu_count,slice_start,slice_end,session_seconds,gpu_seconds,currency,amount',
    );
    expect(lines.length).toBe(4); // header, two records, and the final CRLF
    expect(lines[1]).toContain(',sleeper,workstation,');
    expect(lines[1]).toContain(
      ',2025-10-01T00:00:00.000Z,2025-10-01T01:00:00.000Z,3600.000,7200.000,EUR,5.600000',
    );
    const again = await download('/v1/tenants/acme/billing/export?period=2025-10&format=csv');
    expect(again.bytes.equals(csv.bytes)).toBe(true);
    expect(again.headers.get('etag')).toBe(etag);
    const unchanged = await download(
      '/v1/tenants/acme/billing/export?period=2025-10&format=csv',
      acmeAdmin,
      {
        'if-none-match': etag as string,
      },
    );
    expect(unchanged.status).toBe(304);

    const jsonl = await download('/v1/tenants/acme/billing/export?period=2025-10&format=jsonl');
    expect(jsonl.headers.get('content-type')).toBe('application/x-ndjson');
    const records = jsonl.bytes
      .toString('utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(records.map((r) => [r.kind, r.app_class, r.session_seconds, r.amount])).toEqual([
      ['usage', 'workstation', '3600.000', '5.600000'],
      ['usage', 'workstation', '5400.000', '0.900000'],
    ]);
    expect(jsonl.headers.get('etag')).not.toBe(etag);

    const parquet = await download('/v1/tenants/acme/billing/export?period=2025-10&format=parquet');
    expect(parquet.headers.get('content-type')).toBe('application/vnd.apache.parquet');
    const parquetAgain = await download(
      '/v1/tenants/acme/billing/export?period=2025-10&format=parquet',
    );
    expect(parquetAgain.bytes.equals(parquet.bytes)).toBe(true);
    const file = join(mkdtempSync(join(inject('testbed').tempRoot, 'billing-')), 'oct.parquet');
    writeFileSync(file, parquet.bytes);
    const read = readParquet(file);
    expect(read.schema).toMatchObject({
      record_id: 'int64',
      period_start: 'timestamp[ms, tz=UTC]',
      slice_start: 'timestamp[ms, tz=UTC]',
      gpu_count: 'int32',
      session_seconds: 'decimal128(18, 3)',
      amount: 'decimal128(18, 6)',
      user_email: 'string',
      app_class: 'string',
    });
    expect(read.nullable).toMatchObject({ adjusts_period: true, app_class: true, amount: false });
    expect(
      read.rows.map((r) => [
        r.session_id,
        r.app_class,
        r.slice_start,
        r.session_seconds,
        r.gpu_seconds,
        r.amount,
      ]),
    ).toEqual(
      records.map((r) => [
        r.session_id,
        r.app_class,
        r.slice_start.replace('T', ' ').replace('.000Z', '+00:00'),
        r.session_seconds,
        r.gpu_seconds,
        r.amount,
      ]),
    );
    // every column as JSON Lines has it (timestamps and integers as pyarrow prints them)
    const shown = (v: unknown) =>
      v === null ? null : String(v).replace(/^(\d{4}-\d\d-\d\d)T(.*)\.000Z$/, '$1 $2+00:00');
    expect(read.rows).toEqual(
      records.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, shown(v)]))),
    );
  });

  it('exports an open period (no ETag, with its adjustment) and a range across periods', async () => {
    const nov = await download('/v1/tenants/acme/billing/export?period=2025-11&format=jsonl');
    expect(nov.status).toBe(200);
    expect(nov.headers.get('etag')).toBeNull();
    const [adjustment] = nov.bytes
      .toString('utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(adjustment).toMatchObject({
      kind: 'adjustment',
      period: '2025-11',
      adjusts_period: '2025-10',
    });
    const range = await download(
      '/v1/tenants/acme/billing/export?format=jsonl&from=2025-09-30T00:00:00Z&to=2025-10-02T00:00:00Z',
    );
    const periods = range.bytes
      .toString('utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l).period);
    expect(periods).toEqual(['2025-09', '2025-10']);
    expect(range.headers.get('etag')).toMatch(/^"/);
    expect(range.headers.get('content-disposition')).toMatch(
      /floe-usage-acme-2025-09-30T000000Z_2025-10-02T000000Z\.jsonl/,
    );
    const empty = await download(
      '/v1/tenants/globex/billing/export?period=2025-09&format=csv',
      globexAdmin,
    );
    expect(empty.status).toBe(404);
  });

  it('keeps tenants apart and exports platform-wide for platform admins only', async () => {
    expect(
      (await download('/v1/tenants/globex/billing/export?period=2025-10', acmeAdmin)).status,
    ).toBe(404);
    expect(
      (await download('/v1/tenants/acme/billing/export?period=2025-10', globexAdmin)).status,
    ).toBe(404);
    expect(
      (await download('/v1/tenants/acme/billing/export?period=2025-10', acmeMember)).status,
    ).toBe(403);
    expect((await download('/v1/billing/export?period=2025-10', acmeAdmin)).status).toBe(403);
    expect(
      (await t.call('GET', '/v1/tenants/globex/billing/periods', { token: acmeAdmin })).status,
    ).toBe(404);
    expect((await t.call('GET', '/v1/billing/periods/2025-10', { token: acmeAdmin })).status).toBe(
      403,
    );
    const mine = await download(
      '/v1/tenants/globex/billing/export?period=2025-10&format=jsonl',
      globexAdmin,
    );
    const tenants = mine.bytes
      .toString('utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l).tenant_slug);
    expect(tenants).toEqual(['globex']);
    const all = await download('/v1/billing/export?period=2025-10&format=jsonl', ADMIN_TOKEN);
    expect(all.status).toBe(200);
    const slugs = all.bytes
      .toString('utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l).tenant_slug);
    expect(slugs).toEqual(['acme', 'acme', 'globex']);
    // globex's October is still open: the platform-wide export has no ETag yet
    expect(all.headers.get('etag')).toBeNull();
    expect(
      (await t.call('POST', '/v1/billing/periods/2025-10/close', { token: acmeAdmin })).status,
    ).toBe(403);
    const platform = await t.call('GET', '/v1/billing/periods/2025-10');
    expect(
      platform.body.items.map((p: { tenant: string; state: string }) => [p.tenant, p.state]),
    ).toEqual([
      ['acme', 'closed'],
      ['globex', 'open'],
    ]);
  });

  it('streams a period of more records than one batch, every record once, in order', async () => {
    // several reads, several Arrow batches, and more than one Parquet row group
    const n = Math.max(2 * BATCH_ROWS, ROW_GROUP_ROWS) + 500;
    const bulk = await seedTenant(t, { slug: 'bulk' });
    const period = uuidv7();
    await db().execute(sql`insert into billing_periods (id, tenant_id, label, starts_at, ends_at, time_zone)
      values (${period}, ${bulk.tenant.id}, '2024-01', '2024-01-01T00:00:00Z', '2024-02-01T00:00:00Z', 'UTC')`);
    await db().execute(sql`insert into usage_records (period_id, tenant_id, kind, session_id, user_id,
        user_email, app_id, app_slug, gpu_count, slice_start, slice_end, session_seconds,
        gpu_seconds, currency, amount)
      select ${period}, ${bulk.tenant.id}, 'usage', md5(i::text)::uuid, ${bulk.user.id},
        'user@bulk.test', ${bulk.app.id}, 'sleeper', 0,
        timestamptz '2024-01-01' + i * interval '1 minute', timestamptz '2024-01-01' + (i + 1) * interval '1 minute',
        60, 0, 'EUR', 0.008333
      from generate_series(1, ${n}) i`);
    await db().execute(
      sql`update billing_periods set state = 'closed', closed_at = now() where id = ${period}`,
    );
    const csv = await download(
      '/v1/tenants/bulk/billing/export?period=2024-01&format=csv',
      ADMIN_TOKEN,
    );
    const lines = csv.bytes.toString('utf8').trimEnd().split('\r\n').slice(1);
    const ids = lines.map((l) => Number(l.split(',')[0]));
    expect(ids).toHaveLength(n);
    expect(new Set(ids).size).toBe(n);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    const parquet = await download(
      '/v1/tenants/bulk/billing/export?period=2024-01&format=parquet',
      ADMIN_TOKEN,
    );
    const file = join(mkdtempSync(join(inject('testbed').tempRoot, 'billing-')), 'bulk.parquet');
    writeFileSync(file, parquet.bytes);
    const read = readParquet(file);
    expect(read.rows.map((r) => Number(r.record_id))).toEqual(ids);
    expect(read.rows[n - 1]).toMatchObject({
      session_seconds: '60.000',
      amount: '0.008333',
      app_class: null,
      cluster_id: null,
    });
  });

  it('refuses bad input with a 4xx that says what is wrong', async () => {
    const cases: [string, RegExp][] = [
      ['format=xml&period=2025-10', /format/],
      ['format=csv&period=2025-13', /YYYY-MM/],
      ['format=csv', /give a period/],
      ['period=2025-10&from=2025-10-01T00:00:00Z&to=2025-10-02T00:00:00Z', /not both/],
      ['from=2025-01-01T00:00:00Z', /both from and to/],
      ['from=2025-01-01T00:00:00Z&to=2026-06-01T00:00:00Z', /at most 366 days/],
      ['from=2025-02-01T00:00:00Z&to=2025-01-01T00:00:00Z', /after "from"/],
      ['from=yesterday&to=2025-01-01T00:00:00Z', /from/],
    ];
    for (const [query, message] of cases) {
      const r = await t.call('GET', `/v1/tenants/acme/billing/export?${query}`, {
        token: acmeAdmin,
      });
      expect(r.status, query).toBe(400);
      expect(r.body.error.message, query).toMatch(message);
    }
    const zone = await t.call('PUT', '/v1/tenants/acme/billing/settings', {
      token: acmeAdmin,
      body: { timeZone: 'Mars/Olympus' },
    });
    expect(zone.status).toBe(400);
    expect(
      (await t.call('GET', '/v1/tenants/acme/billing/periods/2025-1', { token: acmeAdmin })).status,
    ).toBe(400);
    expect(
      (await t.call('GET', '/v1/tenants/acme/billing/periods/1999-01', { token: acmeAdmin }))
        .status,
    ).toBe(404);
  });

  it('makes later periods in the tenant’s time zone', async () => {
    const saved = await t.call('PUT', '/v1/tenants/globex/billing/settings', {
      token: globexAdmin,
      body: { timeZone: 'Asia/Tokyo' },
    });
    expect(saved.body).toEqual({ timeZone: 'Asia/Tokyo' });
    // globex's periods already exist up to now: they keep UTC; a new tenant starts in its zone
    const initech = await seedTenant(t, { slug: 'initech' });
    await t.call('PUT', '/v1/tenants/initech/billing/settings', {
      body: { timeZone: 'Asia/Tokyo' },
    });
    await ran(initech, '2025-10-31T16:00:00Z', '2025-10-31T17:00:00Z'); // 1 Nov, 01:00 in Tokyo
    const periods = await t.call('GET', '/v1/tenants/initech/billing/periods');
    const first = periods.body.items.at(-1);
    expect(first).toMatchObject({
      label: '2025-11',
      start: '2025-10-31T15:00:00.000Z',
      timeZone: 'Asia/Tokyo',
    });
    expect(first.totals.sessionSeconds).toBe('3600.000');
    // a platform admin closes a month for every tenant at once: acme's is closed already,
    // bulk has earlier periods open, initech has none that month
    const all = await t.call('POST', '/v1/billing/periods/2025-10/close');
    expect(all.status).toBe(200);
    expect(all.body.closed.map((p: { tenant: string }) => p.tenant)).toEqual(['globex']);
    expect(all.body.skipped).toEqual([{ tenant: 'bulk', reason: 'close period 2024-02 first' }]);
    const again = await t.call('POST', '/v1/billing/periods/2025-10/close');
    expect(again.body.closed).toEqual([]);
  });

  it('prices an app by its class when the card names the class and not the app', async () => {
    const hooli = await seedTenant(t, { slug: 'hooli', app: { class: 'workstation' } });
    expect(hooli.app.class).toBe('workstation');
    const bad = await t.call('PATCH', '/v1/tenants/hooli/apps/sleeper', {
      body: { class: 'Not A Slug' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/lowercase letters/);
    const card = await t.call('POST', '/v1/tenants/hooli/billing/rate-cards', {
      body: {
        currency: 'EUR',
        effectiveFrom: '2025-10-01T00:00:00Z',
        sessionHour: '0.40',
        classSessionHour: { workstation: '1.75' },
      },
    });
    expect(card.status).toBe(201);
    expect(card.body.classSessionHour).toEqual({ workstation: '1.75' });
    await ran(hooli, '2025-10-05T08:00:00Z', '2025-10-05T10:00:00Z');
    const oct = await t.call('GET', '/v1/tenants/hooli/billing/periods/2025-10');
    expect(oct.body.period.totals).toMatchObject({ records: 1, amount: '3.500000' });
    // a class change reprices the open period (records are derived again), from then on
    const unclassed = await t.call('PATCH', '/v1/tenants/hooli/apps/sleeper', {
      body: { class: null },
    });
    expect(unclassed.body.class).toBeNull();
    const again = await t.call('GET', '/v1/tenants/hooli/billing/periods/2025-10');
    expect(again.body.period.totals).toMatchObject({ records: 1, amount: '0.800000' });
  });
  it('closes a period by itself once its grace after the end is over, once across replicas', async () => {
    const umbrella = await seedTenant(t, { slug: 'umbrella' });
    await ran(umbrella, '2026-01-10T10:00:00Z', '2026-01-10T12:00:00Z');
    const deps = { db: db(), log: createLogger('silent'), graceMs: 72 * 3_600_000 };
    const state = async (label: string) => {
      const [p] = await db()
        .select()
        .from(billingPeriods)
        .where(
          and(eq(billingPeriods.tenantId, umbrella.tenant.id), eq(billingPeriods.label, label)),
        );
      return p;
    };
    // two days into February: January is over, but still within its 72 h
    await closeDuePeriods(deps, new Date('2026-02-02T00:00:00Z'));
    expect((await state('2026-01'))?.state).toBe('open');
    await closeDuePeriods(deps, new Date('2026-02-03T23:59:59Z'));
    expect((await state('2026-01'))?.state).toBe('open');
    // its grace is over: closed, with the totals of its usage, by the system
    await closeDuePeriods(deps, new Date('2026-02-04T00:00:00Z'));
    const jan = await state('2026-01');
    expect(jan).toMatchObject({ state: 'closed' });
    expect(jan?.totals).toMatchObject({ records: 1, sessionSeconds: '7200.000' });
    // two replicas at once close February once, and neither fails
    const later = new Date('2026-03-05T00:00:00Z');
    await Promise.all([closeDuePeriods(deps, later), closeDuePeriods(deps, later)]);
    expect((await state('2026-02'))?.state).toBe('closed');
    expect((await state('2026-03'))?.state).toBe('open');
    const entries = await db()
      .select()
      .from(auditLog)
      .where(
        and(eq(auditLog.tenantId, umbrella.tenant.id), eq(auditLog.action, 'billing-period.close')),
      );
    expect(
      entries.map((e) => [e.actorType, (e.diff?.period as { to: string } | undefined)?.to]).sort(),
    ).toEqual([
      ['system', '2026-01'],
      ['system', '2026-02'],
    ]);
  });

  it('picks the periods due for closing, oldest first', () => {
    const p = (label: string, start: string, end: string, state: 'open' | 'closed' = 'open') => ({
      label,
      startsAt: new Date(start),
      endsAt: new Date(end),
      state,
    });
    const periods = [
      p('2026-03', '2026-03-01T00:00:00Z', '2026-04-01T00:00:00Z'),
      p('2026-01', '2026-01-01T00:00:00Z', '2026-02-01T00:00:00Z', 'closed'),
      p('2026-02', '2026-02-01T00:00:00Z', '2026-03-01T00:00:00Z'),
    ];
    const hour = 3_600_000;
    expect(dueForClosing(periods, new Date('2026-03-01T00:00:00Z'), 0)).toEqual(['2026-02']);
    expect(dueForClosing(periods, new Date('2026-03-01T00:59:59Z'), hour)).toEqual([]);
    expect(dueForClosing(periods, new Date('2026-04-02T00:00:00Z'), hour)).toEqual([
      '2026-02',
      '2026-03',
    ]);
  });

  it('writes CSV by COPY exactly as csv-stringify would from the same records', async () => {
    const odd = await seedTenant(t, { slug: 'odd' });
    const period = uuidv7();
    await db().execute(sql`insert into billing_periods (id, tenant_id, label, starts_at, ends_at, time_zone)
      values (${period}, ${odd.tenant.id}, '2024-02', '2024-02-01T00:00:00Z', '2024-03-01T00:00:00Z', 'UTC')`);
    const emails = [
      'a,b@odd.test',
      'say "hi"@odd.test',
      'two\r\nlines',
      'lf\nonly',
      'cr\ronly',
      'é😀',
    ];
    const regions = ['', null, ' spaced ', '"', ',', 'eu-west'];
    for (const [i, email] of emails.entries()) {
      await db().execute(sql`insert into usage_records (period_id, tenant_id, kind, session_id,
          user_id, user_email, app_id, app_slug, cluster_name, region, gpu_sku, gpu_count,
          slice_start, slice_end, session_seconds, gpu_seconds, currency, amount)
        values (${period}, ${odd.tenant.id}, 'usage', ${uuidv7()}, ${odd.user.id}, ${email},
          ${odd.app.id}, 'odd', ${i % 2 ? null : 'c'}, ${regions[i] ?? null}, null, 0,
          ${`2024-02-0${i + 1}T00:00:00.${i}07Z`}, ${`2024-02-0${i + 1}T01:00:00Z`}, ${-1.5 * i}, 0, 'EUR', 0.000001)`);
    }
    await db().execute(
      sql`update billing_periods set state = 'closed', closed_at = now() where id = ${period}`,
    );
    const csv = await download(
      '/v1/tenants/odd/billing/export?period=2024-02&format=csv',
      ADMIN_TOKEN,
    );
    expect(csv.status).toBe(200);
    // the same records read as rows and written by csvRecords (csv-stringify's bytes)
    const [row] = await queryRows<{ starts_at: Date; ends_at: Date }>(
      db(),
      sql`select starts_at, ends_at from billing_periods where id = ${period}`,
    );
    const part = {
      tenantId: odd.tenant.id,
      tenantSlug: 'odd',
      periodId: period,
      label: '2024-02',
      start: new Date((row as { starts_at: Date }).starts_at),
      end: new Date((row as { ends_at: Date }).ends_at),
      labels: new Map<string, string>(),
    };
    const encode = encoder('csv');
    const rows = exportStream(exportBatches(db(), [part]), encode);
    const expected = Buffer.from(await new Response(rows).arrayBuffer());
    expect(csv.bytes.toString('utf8')).toBe(expected.toString('utf8'));
    const text = csv.bytes.toString('utf8');
    expect(text).toContain(',"two\r\nlines",');
    expect(text).toContain(',"lf\nonly",');
    expect(text).toContain(',"say ""hi""@odd.test",');
    expect(text).toContain(',2024-02-02T00:00:00.107Z,2024-02-02T01:00:00.000Z,-1.500,');
    expect(text.split('\r\n')).toHaveLength(emails.length + 3); // the header, a CRLF inside a field, the end
  });
});
