// Launch progress as server-sent events, over real HTTP, with the local driver's real
// processes: state changes as they happen, the end, a client going away, shutdown.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SESSION_STATES } from '../src/db/schema.ts';
import {
  DATABASES,
  eventually,
  freshDatabase,
  openEventStream,
  seedTenant,
  startTestControlPlane,
  type TestControlPlane,
} from './harness.ts';

describe.each(DATABASES)('session progress stream on %s', (kind) => {
  let t: TestControlPlane;
  let closed = false;
  let globexAdmin: string;
  const base = '/v1/tenants/lab/sessions';
  const rank = (state: string) => SESSION_STATES.indexOf(state as never);

  const launch = async (app: string) => {
    const r = await t.call('POST', base, { body: { app, user: 'user@lab.test' } });
    expect(r.status).toBe(201);
    return r.body.id as string;
  };
  const follow = (id: string, token = 'test-platform-admin-token-0123456789') =>
    openEventStream(`${t.url}${base}/${id}/progress`, token);

  beforeAll(async () => {
    t = await startTestControlPlane(await freshDatabase(kind));
    await seedTenant(t, { slug: 'lab' });
    await seedTenant(t, { slug: 'globex' });
    await t.call('POST', '/v1/tenants/lab/apps', {
      body: { slug: 'crasher', name: 'Crasher', command: ['sh', '-c', 'sleep 0.3; exit 3'] },
    });
    const key = await t.call('POST', '/v1/tenants/globex/api-keys', {
      body: { name: 'ops', role: 'tenant-admin' },
    });
    globexAdmin = key.body.token;
  });
  afterAll(async () => {
    if (!closed) await t?.close();
  });

  it('streams each state change until running, then the stop, then ends', async () => {
    const id = await launch('sleeper');
    const events = await follow(id);
    expect(events.status).toBe(200);
    expect(events.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(events.headers.get('cache-control')).toBe('no-cache');

    const states: string[] = [];
    for (;;) {
      const e = await events.next();
      expect(e?.event).toBe('session');
      const session = JSON.parse(e!.data);
      expect(session).toMatchObject({ id, tenantId: expect.any(String), endpoint: null });
      states.push(session.state);
      if (session.state === 'running') break;
    }
    // the current state first, then forward only, one event per state
    expect(['placed', 'starting', 'running']).toContain(states[0]);
    for (let i = 1; i < states.length; i++) {
      expect(rank(states[i]!)).toBeGreaterThan(rank(states[i - 1]!));
    }

    expect((await t.call('DELETE', `${base}/${id}`)).status).toBe(202);
    const stopping = await events.next();
    expect(stopping?.event).toBe('session');
    expect(JSON.parse(stopping!.data).state).toBe('stopping');
    const stopped = await events.next();
    expect(JSON.parse(stopped!.data).state).toBe('stopped');
    const end = await events.next();
    expect(end).toEqual({ event: 'end', data: JSON.stringify({ id, state: 'stopped' }) });
    expect(await events.next()).toBeNull(); // the server closed the stream
    await eventually(async () => t.cp.sessionWatch.watching(id) === 0);
  });

  it('shows a failure, and answers an ended session with its state and the end', async () => {
    const id = await launch('crasher');
    const events = await follow(id);
    let e = await events.next();
    while (e?.event === 'session' && JSON.parse(e.data).state !== 'failed') e = await events.next();
    expect(JSON.parse(e!.data)).toMatchObject({ state: 'failed', exitCode: 3 });
    expect((await events.next())?.event).toBe('end');

    const again = await follow(id);
    expect(await again.next()).toMatchObject({ event: 'session' });
    expect(await again.next()).toEqual({
      event: 'end',
      data: JSON.stringify({ id, state: 'failed' }),
    });
    expect(await again.next()).toBeNull();
  });

  it('lets go of a client that goes away', async () => {
    const id = await launch('sleeper');
    const events = await follow(id);
    await events.next();
    expect(t.cp.sessionWatch.watching(id)).toBe(1);
    events.close();
    await eventually(async () => t.cp.sessionWatch.watching(id) === 0);
    await t.call('DELETE', `${base}/${id}`);
  });

  it('answers 404 for another tenant’s session or an unknown one, before streaming', async () => {
    const id = await launch('sleeper');
    for (const path of [
      `${base}/${id}/progress`,
      `/v1/tenants/globex/sessions/${id}/progress`,
      '/v1/tenants/globex/sessions/00000000-0000-7000-8000-000000000000/progress',
      '/v1/tenants/globex/sessions/nope/progress',
    ]) {
      const r = await t.call('GET', path, { token: globexAdmin });
      expect(r.status, path).toBe(404);
      expect(r.body.error.code).toBe('not_found');
    }
    await t.call('DELETE', `${base}/${id}`);
  });

  it.runIf(kind === 'pglite')(
    'sends a heartbeat comment every 15 s',
    async () => {
      const id = await launch('sleeper');
      const events = await follow(id);
      await events.next();
      await expect(events.next(16_500)).rejects.toThrow(/no event in time/);
      expect(events.comments).toEqual([': heartbeat']);
      events.close();
      await t.call('DELETE', `${base}/${id}`);
    },
    25_000,
  );

  it('ends open streams when the control plane shuts down', async () => {
    const id = await launch('sleeper');
    const events = await follow(id);
    await events.next();
    const started = Date.now();
    const shutdown = t.close();
    closed = true;
    await Promise.race([
      shutdown,
      new Promise((_, reject) => setTimeout(() => reject(new Error('shutdown hangs')), 10_000)),
    ]);
    // neither waits for the stream's socket to time out
    expect(Date.now() - started).toBeLessThan(2_000);
    let e = await events.next(5_000);
    while (e) e = await events.next(5_000);
    expect(e).toBeNull();
  });
});
