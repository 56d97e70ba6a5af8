// A local session with streaming on, like `npm start` runs it: the session runner gives the
// app an X display and a streamer; the session is running once the streamer answers, its
// JSON shows the streamer's URL as `endpoint`, and stopping it leaves nothing behind.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isAlive } from '@floe/testbed';
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

function commandOf(pid: number): string {
  try {
    return execFileSync('cat', [`/proc/${pid}/cmdline`], { encoding: 'utf8' }).replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

describe('a streaming local session', () => {
  let t: TestControlPlane;
  const base = '/v1/tenants/lab/sessions';
  const session = async (id: string) => (await t.call('GET', `${base}/${id}`)).body;

  beforeAll(async () => {
    t = await startTestControlPlane({
      ...(await freshDatabase('pglite')),
      FLOE_LOCAL_STREAMING: 'on',
    });
    await seedTenant(t, { slug: 'lab' });
    const apps = [
      { slug: 'probe', name: 'Probe', command: [process.execPath, PROBE_APP, '--fps=10'] },
      { slug: 'broken', name: 'Broken', command: ['/nonexistent/app'] },
    ];
    for (const body of apps) {
      expect((await t.call('POST', '/v1/tenants/lab/apps', { body })).status).toBe(201);
    }
  });
  afterAll(() => t?.close());

  it('runs the app on its own display with a streamer, and reports the streamer as endpoint', async () => {
    const launched = await t.call('POST', base, { body: { app: 'probe', user: 'user@lab.test' } });
    expect(launched.status).toBe(201);
    expect(launched.body.endpoint).toBeNull();
    const running = await eventually(async () => {
      const s = await session(launched.body.id);
      return s.state === 'running' && s;
    });
    expect(running.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);

    const health = await (await fetch(new URL('healthz', running.endpoint))).json();
    expect(health).toMatchObject({
      status: 'ok',
      viewers: 0,
      display: { width: 1280, height: 720 },
    });
    const page = await fetch(running.endpoint);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<video');

    const pids = processesOf(launched.body.id);
    const commands = pids.map(commandOf).join('\n');
    expect(commands).toMatch(/session-runner\.ts/);
    expect(commands).toMatch(/Xorg|Xvfb/);
    expect(commands).toMatch(/probe-app\.ts/);
    const display = commands.match(/Xorg :(\d+)|Xvfb :(\d+)/);
    const socket = `/tmp/.X11-unix/X${display?.[1] ?? display?.[2]}`;
    expect(existsSync(socket)).toBe(true);

    expect((await t.call('DELETE', `${base}/${launched.body.id}`)).status).toBe(202);
    const stopped = await eventually(async () => {
      const s = await session(launched.body.id);
      return s.state === 'stopped' && s;
    });
    expect(stopped.endpoint).toBeNull();
    expect(pids.filter(isAlive)).toEqual([]);
    expect(existsSync(socket)).toBe(false);
    await expect(fetch(new URL('healthz', running.endpoint))).rejects.toThrow();
  });

  it('fails the session with the runner’s exit when the app cannot start', async () => {
    const launched = await t.call('POST', base, { body: { app: 'broken', user: 'user@lab.test' } });
    const failed = await eventually(async () => {
      const s = await session(launched.body.id);
      return s.state === 'failed' && s;
    });
    expect(failed.reason).toMatch(/exited with code 127/);
    expect(processesOf(launched.body.id)).toEqual([]);
  });
});
