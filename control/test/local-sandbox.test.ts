// A tenant admin's app on the local cluster is hostile: it must get nothing of the control
// plane (its environment, its data folder, the TURN fleet's secret, its API on loopback), nothing
// of other sessions (their homes, X servers, processes) and no say over its session's endpoint.
// Real processes throughout: the control plane's local driver, the session runner, bubblewrap,
// a Python app that tries each of those and reports what happened.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isAlive } from '@floe/testbed';
import { turnPassword } from '@floe/turn';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import type { LaunchSpec, Observation } from '../src/drivers/driver.ts';
import { LocalDriver } from '../src/drivers/local.ts';
import {
  eventually,
  freshDatabase,
  processesOf,
  seedTenant,
  startTestControlPlane,
  type TestControlPlane,
} from './harness.ts';

const ATTACKER = fileURLToPath(new URL('./fixtures/sandbox-attacker.py', import.meta.url));
const LYING_RUNNER = fileURLToPath(new URL('./fixtures/lying-runner.mjs', import.meta.url));
const CANARY = `canary-${Math.random().toString(36).slice(2)}`;

/** A launch of a one-tenant, one-user app on the local driver, with the app's own fields. */
function launchSpec(sessionId: string, app: Partial<LaunchSpec['app']>): LaunchSpec {
  return {
    sessionId,
    tenantId: 't',
    userId: 'u',
    tenant: { name: 'T', maxGpus: null },
    user: { email: 'u@t.test' },
    app: {
      slug: 'app',
      image: null,
      command: ['true'],
      env: {},
      cpu: '1',
      memory: '1Gi',
      gpuSku: null,
      gpuCount: 0,
      persistenceSize: null,
      idleTimeoutSeconds: null,
      maxLifetimeSeconds: null,
      scheduling: null,
      videoCodecs: null,
      ...app,
    },
  };
}

const cmdline = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
};
const environ = (pid: number) =>
  Object.fromEntries(
    readFileSync(`/proc/${pid}/environ`, 'utf8')
      .split('\0')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );

describe('a hostile app on the local cluster', () => {
  let t: TestControlPlane;
  let dataDir: string;
  const base = '/v1/tenants/lab/sessions';
  const session = async (id: string) => (await t.call('GET', `${base}/${id}`)).body;
  const running = (id: string) =>
    eventually(async () => {
      const s = await session(id);
      if (s.state === 'failed') throw new Error(`session failed: ${s.reason}`);
      return s.state === 'running' && s;
    }, 30_000);
  // biome-ignore lint/suspicious/noExplicitAny: the app's report is whatever JSON it wrote
  let report: any;
  let victim: { id: string; appPid: number; display: string; home: string };
  let attacker: { id: string; endpoint: string };
  const { turn } = inject('testbed');

  beforeAll(async () => {
    // something only the control plane's own environment holds
    process.env.FLOE_TEST_CANARY = CANARY;
    const db = await freshDatabase('pglite');
    dataDir = db.FLOE_DATA_DIR as string;
    t = await startTestControlPlane({
      ...db,
      FLOE_LOCAL_STREAMING: 'on',
      FLOE_TURN_URLS: turn.url,
      FLOE_TURN_SECRET: turn.secret,
    });
    await seedTenant(t, { slug: 'lab' });
    const mallory = await t.call('POST', '/v1/tenants/lab/users', {
      body: { email: 'mallory@lab.test', role: 'member' },
    });
    expect(mallory.status).toBe(201);

    // the victim: another user's session, with a file in its home
    const victimApp = {
      slug: 'victim',
      name: 'Victim',
      command: ['sh', '-c', 'echo private > "$HOME/victim.txt"; exec sleep 300'],
    };
    expect((await t.call('POST', '/v1/tenants/lab/apps', { body: victimApp })).status).toBe(201);
    const v = await t.call('POST', base, { body: { app: 'victim', user: 'user@lab.test' } });
    const vs = await running(v.body.id);
    const pids = processesOf(vs.id);
    const appPid = pids.find((p) => cmdline(p)[0] === 'sleep');
    const xserver = pids.map(cmdline).find((c) => /Xorg|Xvfb/.test(c[0] ?? ''));
    expect(appPid).toBeDefined();
    victim = {
      id: vs.id,
      appPid: appPid as number,
      display: xserver?.find((a) => /^:\d+$/.test(a)) as string,
      home: join(dataDir, 'homes', vs.tenantId, vs.userId, 'victim'),
    };
    await eventually(async () => {
      try {
        return readFileSync(join(victim.home, 'victim.txt'), 'utf8') === 'private\n';
      } catch {
        return false;
      }
    });

    const attackerApp = {
      slug: 'attacker',
      name: 'Attacker',
      command: ['python3', ATTACKER],
      maxLifetimeSeconds: 3600,
      env: {
        ATTACK: JSON.stringify({
          dataDir,
          victimHome: victim.home,
          victimX: `/tmp/.X11-unix/X${victim.display.slice(1)}`,
          victimPid: victim.appPid,
          controlPort: Number(new URL(t.url).port),
        }),
      },
    };
    expect((await t.call('POST', '/v1/tenants/lab/apps', { body: attackerApp })).status).toBe(201);
    const a = await t.call('POST', base, { body: { app: 'attacker', user: 'mallory@lab.test' } });
    const as = await running(a.body.id);
    attacker = { id: as.id, endpoint: as.endpoint };
    const log = join(dataDir, 'sessions', `${as.id}.log`);
    report = await eventually(async () => {
      const lines = readFileSync(log, 'utf8').split('\n');
      const line = lines.find((l) => l.startsWith('REPORT '));
      return line && JSON.parse(line.slice('REPORT '.length));
    }, 30_000);
  }, 120_000);

  afterAll(async () => {
    delete process.env.FLOE_TEST_CANARY;
    await t?.close();
  });

  it('runs, in a home of its own that it can write, with its display and sound server', () => {
    expect(report.ownHome).toEqual({ ok: true, value: 'written' });
    expect(report.ownX).toEqual({ ok: true, value: 'connected' });
    expect(report.ownSound).toEqual({ ok: true, value: 'connected' });
  });

  it('gets an environment of its own settings, nothing of the control plane’s', () => {
    const env = report.env as Record<string, string>;
    const allowed = [
      'PATH',
      'LANG',
      'LC_CTYPE', // Python's own locale coercion
      'HOME',
      'PWD', // bwrap's --chdir
      'DISPLAY',
      'PULSE_SERVER',
      'ATTACK',
      'FLOE_SESSION_ID',
      'FLOE_TENANT_ID',
      'FLOE_USER_ID',
      // the gamepad interposer and the folder of its sockets (docs/gamepads.md)
      'LD_PRELOAD',
      'FLOE_GAMEPAD_DIR',
    ];
    expect(Object.keys(env).filter((k) => !allowed.includes(k))).toEqual([]);
    expect(env.FLOE_GAMEPAD_DIR).toBe('/run/floe/gamepads');
    expect(env.LD_PRELOAD).toMatch(/\/floe\/gamepad\/[0-9a-f]{16}\/libfloe-gamepad\.so$/);
    const values = JSON.stringify(env);
    for (const secret of [CANARY, turn.secret, 'test-platform-admin-token']) {
      expect(values).not.toContain(secret);
    }
    expect(env.HOME).toBe('/home/floe');
  });

  it('sees only its own processes, and cannot signal another session’s', () => {
    expect(report.proc.length).toBeLessThanOrEqual(3); // bwrap's init, the app
    expect(report.proc).not.toContain(victim.appPid);
    expect(report.kill.ok).toBe(false);
    expect(isAlive(victim.appPid)).toBe(true);
  });

  it('cannot read the data folder (secret.key, pgdata)', () => {
    expect(report.secretKey.ok).toBe(false);
    expect(report.dataDir.ok).toBe(false);
  });

  it('cannot read another session’s home nor reach its X server', () => {
    expect(report.victimHome.ok).toBe(false);
    expect(report.victimX.ok).toBe(false);
    expect(report.victimXAbstract.ok).toBe(false);
  });

  it('cannot reach the control plane on loopback', () => {
    expect(report.controlPlane.ok).toBe(false);
  });

  it('holds no descriptor but 0, 1 and 2, and cannot set its session’s endpoint', async () => {
    expect(report.readyFd.ok).toBe(false);
    // Python's own listing of /proc/self/fd is the one more
    expect(report.fds.value.filter((fd: number) => fd > 2).length).toBeLessThanOrEqual(1);
    expect(attacker.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect((await session(attacker.id)).endpoint).toBe(attacker.endpoint);
    const health = await (await fetch(new URL('healthz', attacker.endpoint))).json();
    expect(health.status).toBe('ok');
  });

  it('talks only to an X server, sound server and window manager that hold no privilege', () => {
    const uidOf = (pid: number) =>
      Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
    const servers = processesOf(attacker.id).filter((p) =>
      /Xorg|Xvfb|pulseaudio|matchbox/.test(cmdline(p)[0] ?? ''),
    );
    expect(servers.map((p) => cmdline(p)[0]?.replace(/.*\//, '')).sort()).toEqual([
      expect.stringMatching(/Xorg|Xvfb/),
      'matchbox-window-manager',
      'pulseaudio',
    ]);
    const expected = process.getuid?.() === 0 ? 64_000 : process.getuid?.();
    for (const pid of servers) expect(uidOf(pid)).toBe(expected);
    // unprivileged Xorg still comes up where it can (a display that resizes), not Xvfb
    if (existsSync('/usr/lib/xorg/modules/drivers/dummy_drv.so')) {
      expect(servers.map((p) => cmdline(p)[0])).toContainEqual(expect.stringMatching(/Xorg$/));
    }
  });

  it('gives the streamer a TURN credential of its session, never the fleet’s secret', () => {
    const runner = processesOf(attacker.id).find((p) =>
      cmdline(p).some((a) => a.endsWith('session-runner.ts')),
    );
    expect(runner).toBeDefined();
    const env = environ(runner as number);
    expect(JSON.stringify(env)).not.toContain(turn.secret);
    expect(env.FLOE_TURN_SECRET).toBeUndefined();
    expect(JSON.stringify(env)).not.toContain(CANARY);
    const [expiry, sessionId] = (env.FLOE_TURN_USERNAME ?? '').split(':');
    expect(sessionId).toBe(attacker.id);
    // valid for the app's maximum lifetime (3600 s), no longer
    const left = Number(expiry) - Date.now() / 1000;
    expect(left).toBeGreaterThan(3500);
    expect(left).toBeLessThanOrEqual(3600);
    expect(env.FLOE_TURN_CREDENTIAL).toBe(turnPassword(turn.secret, env.FLOE_TURN_USERNAME!));
    expect(env.FLOE_TURN_URLS).toBe(turn.url);
  });
});

const address = (sessionId: string) => ({
  sessionId,
  tenantId: 'tenant',
  ref: null,
  active: true,
});

/** What the driver observes of a session each time it says that may have changed. */
function observations(driver: LocalDriver, sessionId: string): Observation[] {
  const seen: Observation[] = [];
  driver.onChange((id) => {
    if (id === sessionId || id === null) seen.push(driver.observe(address(sessionId)));
  });
  return seen;
}

const stateOf = (o: Observation) => (o.seen === 'present' ? o.state : o.seen);

describe('the local driver', () => {
  it('takes as endpoint only its streamer’s own address, whatever the session announces', async () => {
    const { tempRoot } = inject('testbed');
    const driver = new LocalDriver({
      logDir: join(tempRoot, `lying-${Date.now()}`),
      maxSessions: 1,
      streaming: { runner: LYING_RUNNER, env: {} },
    });
    const seen = observations(driver, 'lying-1');
    await driver.launch(launchSpec('lying-1', { slug: 'liar' }));
    const end = await eventually(async () => seen.find((e) => stateOf(e) !== 'starting'));
    await driver.close({ terminate: true });
    expect(end).toMatchObject({ state: 'failed', reason: expect.stringMatching(/endpoint/) });
    expect(seen.some((e) => JSON.stringify(e).includes('169.254.169.254'))).toBe(false);
  });
});

describe('the local driver’s sandbox', () => {
  // /dev/vga_arbiter stands in for a GPU's device nodes (there is no GPU here)
  const STAND_IN = '/dev/vga_arbiter';
  it('gives an app only the devices of the GPUs it asked for', async () => {
    const { tempRoot } = inject('testbed');
    const dir = join(tempRoot, `sandbox-dev-${Date.now()}`);
    const driver = new LocalDriver({
      logDir: join(dir, 'sessions'),
      maxSessions: 2,
      sandbox: {
        homesDir: join(dir, 'homes'),
        uid: 64_000,
        readOnly: [],
        hidden: [],
        gpuDevices: [STAND_IN],
      },
    });
    const withGpu = observations(driver, 'with-gpu');
    const withoutGpu = observations(driver, 'without-gpu');
    const spec = (sessionId: string, gpuCount: number) =>
      launchSpec(sessionId, {
        slug: 'lister',
        command: ['sh', '-c', 'ls /dev; id -u'],
        gpuSku: gpuCount ? 'l4' : null,
        gpuCount,
      });
    await driver.launch(spec('with-gpu', 1));
    await driver.launch(spec('without-gpu', 0));
    await eventually(async () =>
      [withGpu, withoutGpu].every((seen) => seen.some((e) => stateOf(e) === 'stopped')),
    );
    await driver.close();
    const listing = (id: string) => readFileSync(join(dir, 'sessions', `${id}.log`), 'utf8');
    expect(listing('with-gpu').split('\n')).toContain('vga_arbiter');
    expect(listing('without-gpu').split('\n')).not.toContain('vga_arbiter');
    // and neither runs as the control plane's user
    expect(listing('without-gpu')).toContain(
      String(process.getuid?.() === 0 ? 64_000 : process.getuid?.()),
    );
  });
});

describe('a sandboxed app being stopped', () => {
  it('gets SIGTERM and its grace period, as unsandboxed', async () => {
    const { tempRoot } = inject('testbed');
    const dir = join(tempRoot, `sandbox-stop-${Date.now()}`);
    const driver = new LocalDriver({
      logDir: join(dir, 'sessions'),
      maxSessions: 1,
      sandbox: { homesDir: join(dir, 'homes'), uid: 64_000, readOnly: [], hidden: [] },
    });
    const seen = observations(driver, 'saver');
    await driver.launch(
      launchSpec('saver', {
        slug: 'saver',
        // saving takes a moment after SIGTERM
        command: ['sh', '-c', 'trap "sleep 0.5; echo saved; exit 0" TERM; sleep 300 & wait'],
      }),
    );
    await eventually(async () => seen.some((e) => stateOf(e) === 'running'));
    await new Promise((r) => setTimeout(r, 300)); // the trap is set
    await driver.terminate(address('saver'));
    const end = await eventually(async () => seen.find((e) => stateOf(e) === 'stopped'));
    await driver.close();
    expect(end).toMatchObject({ reason: 'stopped on request' });
    expect(readFileSync(join(dir, 'sessions', 'saver.log'), 'utf8')).toContain('saved');
  });
});

describe('the local cluster', () => {
  it('is off unless FLOE_LOCAL_CLUSTER=true', async () => {
    expect(loadConfig({}).FLOE_LOCAL_CLUSTER).toBe('false');
    const t = await startTestControlPlane({
      ...(await freshDatabase('pglite')),
      FLOE_LOCAL_CLUSTER: 'false',
    });
    try {
      expect(t.cp.localClusterId).toBeNull();
      const clusters = await t.call('GET', '/v1/clusters');
      expect(clusters.status).toBe(200);
      expect(JSON.stringify(clusters.body)).not.toContain('"local"');
    } finally {
      await t.close();
    }
  });
});
