// The control plane SIGKILLed in the middle of many launches, several times, restarted on the
// same data each time: every session's row agrees with this machine (running ⇔ exactly one
// live process tree of it; failed or stopped ⇔ none), no process of a session outlives the
// row that names it, and stopping every session leaves nothing behind. The control plane is
// a real child process (control/src/main.ts) on the run's PostgreSQL.
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ADMIN_TOKEN,
  eventually,
  freshDatabase,
  seedTenant,
  type TestControlPlane,
} from './harness.ts';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

/**
 * Every live process whose environment names a session, by session (the runner, its X
 * server and streamer, the sandbox, the app), each marked with whether its stdout is a log in
 * `logDir` (what this test's control plane started writes there).
 */
function sessionProcesses(
  logDir: string,
): Map<string, { pid: number; ppid: number; ours: boolean }[]> {
  const bySession = new Map<string, { pid: number; ppid: number; ours: boolean }[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    try {
      const env = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
      const id = env.find((e) => e.startsWith('FLOE_SESSION_ID='))?.slice(16);
      if (!id) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z') continue;
      let ours = false;
      try {
        ours = readlinkSync(`/proc/${pid}/fd/1`).startsWith(`${logDir}/`);
      } catch {
        // no stdout
      }
      const found = { pid, ppid: Number(fields[1]), ours };
      bySession.set(id, [...(bySession.get(id) ?? []), found]);
    } catch {
      // gone, or not ours to read
    }
  }
  return bySession;
}

/** Sessions of this test's control plane that have a live process. */
function liveSessions(logDir: string): string[] {
  return [...sessionProcesses(logDir)].filter(([, ps]) => ps.some((p) => p.ours)).map(([id]) => id);
}

/** The roots of a session's processes: those whose parent is not one of them (one per tree). */
function trees(processes: { pid: number; ppid: number }[]): number {
  const pids = new Set(processes.map((p) => p.pid));
  return processes.filter((p) => !pids.has(p.ppid)).length;
}

const PROBE_APP = fileURLToPath(import.meta.resolve('@floe/streamer/probe-app'));

describe.each([
  // many bare apps: spawned and running within a few milliseconds, so the kill lands
  // between a spawn and its record
  { streaming: 'off', rounds: 5, launches: 12, command: ['sh', '-c', 'sleep 300 & wait'] },
  // a few streaming ones (X server, streamer): starting for a second or two, so the kill
  // lands before their streamer is ready, and the next control plane must wait for it
  { streaming: 'on', rounds: 2, launches: 3, command: [process.execPath, PROBE_APP, '--fps=2'] },
])(
  'a control plane SIGKILLed during launches (streaming $streaming)',
  ({ streaming, rounds, launches, command }) => {
    let child: ChildProcess | null = null;
    afterAll(() => {
      child?.kill('SIGKILL');
    });

    it('leaves neither orphans nor twins, and every row agrees with the processes', async () => {
      const env = await freshDatabase('postgres');
      const logDir = join(resolve(env.FLOE_DATA_DIR as string), 'sessions');
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const call = async (
        method: string,
        path: string,
        opts: { body?: unknown } = {},
        // biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON came back
      ): Promise<any> => {
        const res = await fetch(url + path, {
          method,
          headers: {
            authorization: `Bearer ${ADMIN_TOKEN}`,
            ...(opts.body !== undefined && { 'content-type': 'application/json' }),
          },
          body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        });
        const text = await res.text();
        return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
      };
      const start = async () => {
        child = spawn(process.execPath, [MAIN], {
          stdio: ['ignore', 'ignore', 'inherit'],
          env: {
            ...process.env,
            ...env,
            PORT: String(port),
            FLOE_ADMIN_TOKEN: ADMIN_TOKEN,
            FLOE_LOCAL_CLUSTER: 'true',
            FLOE_LOCAL_STREAMING: streaming,
            FLOE_LOCAL_MAX_SESSIONS: '200',
            LOG_LEVEL: 'error',
          },
        });
        await eventually(async () => {
          try {
            return (await call('GET', '/v1/tenants')).status === 200;
          } catch {
            return false; // not listening yet
          }
        }, 30_000);
      };
      const crash = async () => {
        const dying = child as ChildProcess;
        const exited = new Promise((r) => dying.once('exit', r));
        dying.kill('SIGKILL');
        await exited;
        child = null;
      };
      type Row = { id: string; state: string };
      const rows = async (): Promise<Row[]> => {
        const out: Row[] = [];
        let cursor = '';
        for (;;) {
          const page = await call('GET', `/v1/tenants/lab/sessions?limit=100${cursor}`);
          out.push(...page.body.items);
          if (!page.body.nextCursor) return out;
          cursor = `&cursor=${encodeURIComponent(page.body.nextCursor)}`;
        }
      };
      const settledRows = () =>
        eventually(async () => {
          const all = await rows();
          const moving = ['requested', 'placed', 'starting', 'stopping', 'unknown'];
          return all.every((r) => !moving.includes(r.state)) && all;
        }, 30_000);
      const agree = (all: Row[], round: string) => {
        const processes = sessionProcesses(logDir);
        const named = new Set(all.map((r) => r.id));
        for (const id of liveSessions(logDir)) {
          expect(named.has(id), `${round}: processes of a session no row names (${id})`).toBe(true);
        }
        for (const r of all) {
          const found = trees(processes.get(r.id) ?? []);
          const want = r.state === 'running' ? 1 : 0;
          expect(found, `${round}: session ${r.id} is ${r.state} with ${found} trees`).toBe(want);
        }
      };

      await start();
      const t = { call } as unknown as TestControlPlane;
      await seedTenant(t, { slug: 'lab', app: { command } });
      let launched = 0;
      for (let round = 1; round <= rounds; round++) {
        // launches and a few stops in flight, the control plane killed at a random instant
        const before = await rows();
        const inFlight = [
          ...Array.from({ length: launches }, () =>
            call('POST', '/v1/tenants/lab/sessions', {
              body: { app: 'sleeper', user: 'user@lab.test' },
            }),
          ),
          ...before
            .filter((r) => r.state === 'running')
            .slice(0, 2)
            .map((r) => call('DELETE', `/v1/tenants/lab/sessions/${r.id}`)),
        ].map((p) => p.catch(() => null));
        // the first admitted launch is being spawned now, the others are close behind it
        await Promise.race(inFlight);
        await new Promise((r) => setTimeout(r, Math.random() * 150));
        await crash();
        await Promise.all(inFlight);
        await start();
        const all = await settledRows();
        launched = all.length;
        agree(all, `round ${round}`);
        // what outlived the crash was adopted, what had not started was launched: a crash
        // fails no session (these apps never fail on their own)
        const failed = all.filter((r) => r.state === 'failed');
        expect(failed, `round ${round}: sessions failed by the crash`).toEqual([]);
      }
      expect(launched).toBeGreaterThan(0);

      // stopping every session leaves no process behind
      for (const r of await rows()) {
        if (r.state === 'running') await call('DELETE', `/v1/tenants/lab/sessions/${r.id}`);
      }
      const end = await settledRows();
      expect(end.filter((r) => r.state === 'running')).toEqual([]);
      await eventually(async () => liveSessions(logDir).length === 0, 15_000);
      await crash();
    }, 240_000);
  },
);
