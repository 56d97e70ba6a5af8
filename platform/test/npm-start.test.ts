// The README's first command, as a person runs it: `npm start` (the real script, ensure-deps
// and all) on its embedded default, PGlite, in a fresh data folder and on free ports. Wait
// for the printed URL, sign in with the printed demo user in Chromium, launch an app and see
// its frames, shut it down, leave a second one running, then Ctrl+C (SIGINT to the process
// group, as a terminal sends it): npm start exits and nothing it started is left running.
// The product flow test (flow.test.ts) covers PostgreSQL; this one proves the default.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, launchChromium } from '@floe/testbed';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { framesDecoded } from './stream-page.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ARTIFACTS = join(ROOT, '.floe/artifacts/npm-start/');

const canListen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = createServer()
      .once('error', () => resolve(false))
      .listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });

/** A port N with N-1 to N-3 free too: npm start's --port-base. */
async function freePortBase(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const n = await freePort();
    if (
      n > 1027 &&
      (await canListen(n - 1)) &&
      (await canListen(n - 2)) &&
      (await canListen(n - 3))
    )
      return n;
  }
  throw new Error('no four free ports in a row');
}

interface Proc {
  pid: number;
  ppid: number;
  /** clock ticks after boot: with the pid, it names one process even when pids are reused */
  start: string;
  state: string;
  cmdline: string;
}

function processes(): Proc[] {
  const out: Proc[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // the command name is in parentheses and may hold spaces; fields follow its last ')'
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ');
      out.push({
        pid: Number(name),
        state: fields[0]!,
        ppid: Number(fields[1]),
        start: fields[19]!,
        cmdline,
      });
    } catch {
      // gone while we read
    }
  }
  return out;
}

function descendants(root: number): Proc[] {
  const all = processes();
  const found: Proc[] = [];
  const parents = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of all) {
      if (parents.has(p.ppid) && !parents.has(p.pid)) {
        parents.add(p.pid);
        found.push(p);
        grew = true;
      }
    }
  }
  return found;
}

const stillRunning = (procs: Proc[]) => {
  const now = new Map(processes().map((p) => [`${p.pid}/${p.start}`, p]));
  return procs.filter((p) => {
    const q = now.get(`${p.pid}/${p.start}`);
    return q && q.state !== 'Z'; // a zombie runs nothing
  });
};

function npmStart(args: string[]): {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
} {
  let stdout = '';
  let stderr = '';
  const child = spawn('npm', ['start', '--', ...args], {
    cwd: ROOT,
    detached: true, // its own process group, which gets the SIGINT as from a terminal
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LOG_LEVEL: 'info' },
  });
  child.stdout!.on('data', (d) => {
    stdout += d;
  });
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  return { child, stdout: () => stdout, stderr: () => stderr };
}

/** How a process ended: its exit code, or the signal that ended it. */
const exited = (child: ChildProcess) =>
  new Promise<number | NodeJS.Signals | null>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve(child.exitCode ?? child.signalCode);
    } else child.once('exit', (code, signal) => resolve(code ?? signal));
  });

describe('npm start', () => {
  let base: number;
  let floe: ReturnType<typeof npmStart>;
  let url: string;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    base = await freePortBase();
    const dataDir = mkdtempSync(join(inject('testbed').tempRoot, 'npm-start-'));
    floe = npmStart(['--port-base', String(base), '--data-dir', dataDir]);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1000, height: 700 } });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    try {
      process.kill(-floe.child.pid!, 'SIGKILL'); // a failed test's leftovers
    } catch {
      // gone, as it should be
    }
  });

  it('prints the URL to open, on the gateway at --port-base', async () => {
    await expect
      .poll(() => /Floe is running: open (\S+)/.exec(floe.stdout())?.[1], {
        timeout: 120_000,
        interval: 250,
        message: `npm start printed no URL; stderr:\n${floe.stderr()}`,
      })
      .toBeTruthy();
    url = /Floe is running: open (\S+)/.exec(floe.stdout())![1]!;
    expect(new URL(url).port).toBe(String(base));
    // where the platform-admin key is, and that it opens the control plane's API
    const keyFile = /platform-admin API key: in (\S+)/.exec(floe.stdout())?.[1];
    const clusters = await fetch(`http://127.0.0.1:${base - 1}/v1/clusters`, {
      headers: { authorization: `Bearer ${readFileSync(keyFile!, 'utf8').trim()}` },
    });
    expect(clusters.status).toBe(200);
    // the gateway's metrics are on N-3, not on the port people open
    const metrics = await fetch(`http://127.0.0.1:${base - 3}/metrics`);
    expect(await metrics.text()).toMatch(/^floe_gateway_websockets_open 0$/m);
    expect((await fetch(`http://127.0.0.1:${base}/metrics`, { redirect: 'manual' })).status).toBe(
      404,
    );
    // every log line names its part once
    const logLines = floe
      .stdout()
      .split('\n')
      .filter((l) => l.startsWith('{'));
    expect(logLines.length).toBeGreaterThan(0);
    for (const line of logLines) expect(line.match(/"service":/g), line).toHaveLength(1);
  }, 130_000);

  it('refuses a second start on the same ports, naming the port', async () => {
    const second = npmStart(['--port-base', String(base)]);
    expect(await exited(second.child)).not.toBe(0);
    expect(second.stderr()).toContain(`port ${base} (the gateway) is in use`);
    expect(second.stderr()).toContain('--port-base');
  }, 60_000);

  it('signs in as the printed demo user, launches an app and streams it', async () => {
    const [, email, password] = /sign in as (\S+) \/ (\S+) \(member\)/.exec(floe.stdout()) ?? [];
    expect(email).toBeTruthy();
    await page.goto(url);
    await page.getByLabel('Email').fill(email!);
    await page.getByLabel('Password').fill(password!);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`http://127.0.0.1:${base}/`);
    await page.getByRole('button', { name: 'Launch Clock' }).click();
    const open = page.getByRole('link', { name: 'Open Clock' });
    await open.waitFor({ timeout: 30_000 });
    await open.click();
    await page.waitForFunction(() => document.body.dataset.state === 'streaming', null, {
      timeout: 30_000,
    });
    // xclock redraws every second: frames keep coming
    await expect.poll(() => framesDecoded(page), { timeout: 20_000 }).toBeGreaterThan(3);
    expect(await page.evaluate(() => document.querySelector('video')?.videoWidth)).toBeGreaterThan(
      0,
    );
    await page.screenshot({ path: join(ARTIFACTS, 'stream.png') });
  }, 90_000);

  it('shuts the app down from the launcher', async () => {
    await page.getByRole('link', { name: /launcher/i }).click();
    await page.getByRole('button', { name: 'Shut down Clock' }).click();
    await expect
      .poll(() => page.getByRole('link', { name: 'Open Clock' }).count(), {
        timeout: 20_000,
      })
      .toBe(0);
  }, 60_000);

  it('stops on Ctrl+C with nothing it started left running, a running session included', async () => {
    await page.getByRole('button', { name: 'Launch Eyes' }).click();
    await page.getByRole('link', { name: 'Open Eyes' }).waitFor({ timeout: 30_000 });
    await browser.close(); // its connections would keep coturn's and the gateway's sockets busy

    const started = descendants(floe.child.pid!);
    // what there is to stop: the servers and the running session's processes
    const commands = started.map((p) => p.cmdline);
    expect(commands.some((c) => c.includes('platform/src/main.ts'))).toBe(true);
    expect(commands.some((c) => c.startsWith('xeyes'))).toBe(true);
    const coturn = existsSync('/usr/bin/turnserver');
    expect(commands.some((c) => c.includes('turnserver'))).toBe(coturn);

    process.kill(-floe.child.pid!, 'SIGINT');
    // npm itself ends by the signal, as in a terminal; what Floe started must end with it
    expect([0, 'SIGINT']).toContain(await exited(floe.child));
    await expect
      .poll(() => stillRunning(started).map((p) => `${p.pid} ${p.cmdline}`), { timeout: 15_000 })
      .toEqual([]);
    for (const port of [base, base - 1, base - 2]) expect(await canListen(port)).toBe(true);
  }, 90_000);
});

describe('npm start after a SIGKILL', () => {
  // what a failed test would leave running
  const leftovers: number[] = [];
  afterAll(() => {
    for (const pid of leftovers) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  });

  it('ends the coturn a killed run left, and removes its folder with the secret', async () => {
    const base = await freePortBase();
    const dataDir = mkdtempSync(join(inject('testbed').tempRoot, 'npm-start-killed-'));
    const started = async () => {
      const floe = npmStart(['--port-base', String(base), '--data-dir', dataDir]);
      leftovers.push(-floe.child.pid!);
      await expect
        .poll(() => floe.stdout().includes('Floe is running') || floe.child.exitCode !== null, {
          timeout: 120_000,
        })
        .toBe(true);
      expect(floe.stdout(), floe.stderr()).toContain('Floe is running');
      return floe;
    };
    const first = await started();
    const tree = descendants(first.child.pid!);
    const coturn = tree.find((p) => p.cmdline.includes('turnserver'));
    // node itself, not the shell npm runs it from
    const main = tree.find((p) => /^node .*platform\/src\/main\.ts/.test(p.cmdline));
    expect(coturn && main).toBeTruthy();
    const folder = /-c (\S+)\/turnserver\.conf/.exec(coturn!.cmdline)![1]!;
    leftovers.push(coturn!.pid, main!.pid);
    process.kill(main!.pid, 'SIGKILL'); // the platform only: what it started lives on
    await exited(first.child);
    expect(stillRunning([coturn!])).toHaveLength(1);

    const second = await started();
    expect(stillRunning([coturn!])).toEqual([]);
    expect(existsSync(folder)).toBe(false);
    process.kill(-second.child.pid!, 'SIGINT');
    await exited(second.child);
  }, 300_000);
});
