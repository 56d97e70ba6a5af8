// The fast path's access log (http/access-summary.ts): requests counted per session, user,
// method and status and written as one line each per interval; errors and WebSocket
// upgrades still one line each, at once; the metrics per request either way.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { AccessSummary, RequestTallies } from '../../src/http/access-summary.ts';
import { createMetrics } from '../../src/metrics.ts';

const A = '01a2a3a4-0000-7000-8000-00000000000a';
const B = '01a2a3a4-0000-7000-8000-00000000000b';

describe('RequestTallies', () => {
  it('counts alike requests as one line, with their mean and longest time', () => {
    const t = new RequestTallies();
    t.add(A, 'GET', 200, 'bob@acme.test', 1);
    t.add(A, 'GET', 200, 'bob@acme.test', 2.04);
    t.add(A, 'GET', 304, 'bob@acme.test', 0.5);
    t.add(A, 'POST', 200, 'bob@acme.test', 3);
    t.add(A, 'GET', 200, 'eve@acme.test', 4);
    t.add(B, 'GET', 200, 'bob@acme.test', 5);
    expect(t.drain()).toEqual([
      {
        method: 'GET',
        path: `/sessions/${A}/*`,
        status: 200,
        user: 'bob@acme.test',
        count: 2,
        ms: 1.5,
        msMax: 2,
      },
      {
        method: 'GET',
        path: `/sessions/${A}/*`,
        status: 304,
        user: 'bob@acme.test',
        count: 1,
        ms: 0.5,
        msMax: 0.5,
      },
      {
        method: 'POST',
        path: `/sessions/${A}/*`,
        status: 200,
        user: 'bob@acme.test',
        count: 1,
        ms: 3,
        msMax: 3,
      },
      {
        method: 'GET',
        path: `/sessions/${A}/*`,
        status: 200,
        user: 'eve@acme.test',
        count: 1,
        ms: 4,
        msMax: 4,
      },
      {
        method: 'GET',
        path: `/sessions/${B}/*`,
        status: 200,
        user: 'bob@acme.test',
        count: 1,
        ms: 5,
        msMax: 5,
      },
    ]);
  });

  it('starts again after each drain', () => {
    const t = new RequestTallies();
    t.add(A, 'GET', 200, 'bob@acme.test', 1);
    expect(t.drain()).toHaveLength(1);
    expect(t.drain()).toEqual([]);
  });
});

describe('AccessSummary', () => {
  function setup() {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
        done();
      },
    });
    const metrics = createMetrics();
    // an interval the test never waits for: it flushes by hand
    const summary = new AccessSummary({
      log: pino(sink),
      metrics,
      route: '/sessions/:id/*',
      intervalMs: 3_600_000,
    });
    return { lines, metrics, summary };
  }
  const ok = { method: 'GET', path: `/sessions/${A}/x`, status: 200, ms: 1, user: 'bob@acme.test' };
  const total = async (metrics: ReturnType<typeof createMetrics>, status: number) =>
    (await metrics.requests.get()).values.find((v) => v.labels.status === status)?.value;

  it('writes answered requests as counts at the flush, and counts the metrics at once', async () => {
    const { lines, metrics, summary } = setup();
    for (let i = 0; i < 50; i++) summary.record(A, ok);
    expect(lines).toEqual([]);
    expect(await total(metrics, 200)).toBe(50);
    summary.close();
    expect(lines).toEqual([
      expect.objectContaining({
        msg: 'requests',
        method: 'GET',
        path: `/sessions/${A}/*`,
        status: 200,
        count: 50,
        user: 'bob@acme.test',
      }),
    ]);
  });

  it('writes an error answer and a WebSocket upgrade one line each, at once', async () => {
    const { lines, metrics, summary } = setup();
    summary.record(A, { ...ok, status: 502 });
    summary.record(A, { ...ok, path: `/sessions/${A}/signal`, status: 101, upgrade: true });
    expect(lines).toEqual([
      expect.objectContaining({ msg: 'request', path: `/sessions/${A}/x`, status: 502 }),
      expect.objectContaining({ msg: 'request', path: `/sessions/${A}/signal`, upgrade: true }),
    ]);
    expect(await total(metrics, 502)).toBe(1);
    summary.close();
    expect(lines).toHaveLength(2);
  });
});
