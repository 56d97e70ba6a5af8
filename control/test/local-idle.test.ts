// Idle shutdown on the local runner: a streaming session whose user does nothing for its
// app's idleTimeoutSeconds is stopped with reason idle, like the Kubernetes path (the operator),
// and leaves nothing behind. The schema's minimum is 60 s, so the session loop's clock is
// moved on instead of waiting (through the control plane's internals, not its API or environment).
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  eventually,
  freshDatabase,
  processesOf,
  seedTenant,
  startTestControlPlane,
  type TestControlPlane,
} from './harness.ts';

const PROBE_APP = fileURLToPath(import.meta.resolve('@floe/streamer/probe-app'));

describe('an idle streaming local session', () => {
  let t: TestControlPlane;
  /** how far the session loop's clock is ahead of the real one */
  let skewMs = 0;
  const base = '/v1/tenants/lab/sessions';
  const session = async (id: string) => (await t.call('GET', `${base}/${id}`)).body;

  beforeAll(async () => {
    t = await startTestControlPlane(
      { ...(await freshDatabase('pglite')), FLOE_LOCAL_STREAMING: 'on' },
      {
        localDriver: { idle: { intervalMs: 200 } },
        now: () => new Date(Date.now() + skewMs),
      },
    );
    await seedTenant(t, {
      slug: 'lab',
      app: {
        slug: 'probe',
        name: 'Probe',
        command: [process.execPath, PROBE_APP, '--fps=5'],
        idleTimeoutSeconds: 60,
      },
    });
  });
  afterAll(() => t?.close());

  it('is stopped with reason idle once no input came for idleTimeoutSeconds', async () => {
    const launched = await t.call('POST', base, { body: { app: 'probe', user: 'user@lab.test' } });
    expect(launched.status).toBe(201);
    const running = await eventually(async () => {
      const s = await session(launched.body.id);
      return s.state === 'running' && s;
    }, 30_000);
    // the streamer answers that nobody gave input yet
    const health = await (await fetch(new URL('healthz', running.endpoint))).json();
    expect(health.lastInputAt).toBeNull();

    // several checks within the timeout: it keeps running
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await session(launched.body.id)).state).toBe('running');

    skewMs = 61_000;
    const stopped = await eventually(async () => {
      const s = await session(launched.body.id);
      return s.state === 'stopped' && s;
    }, 20_000);
    expect(stopped.reason).toBe('idle: no input for 60s');
    // Floe stopped it, and says so in the audit log
    const log = await t.call('GET', `/v1/tenants/lab/audit-log?targetId=${launched.body.id}`);
    const stop = log.body.items.find((e: { action: string }) => e.action === 'session.stop');
    expect(stop).toMatchObject({ actor: { type: 'system', role: 'system' } });
    expect(JSON.stringify(stop.diff)).toContain('idle');
    await eventually(async () => processesOf(launched.body.id).length === 0, 10_000);
  }, 90_000);
});
