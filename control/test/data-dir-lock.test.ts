// One control plane per PGlite data folder: a second process on the same folder is refused
// with the folder and the owner's pid; the lock of a killed process is taken over.
// Real processes (`node control/src/main.ts`), each with its own PGlite.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { ADMIN_TOKEN, eventually } from './harness.ts';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function start(dataDir: string): Started {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: '0',
    FLOE_DATA_DIR: dataDir,
    FLOE_ADMIN_TOKEN: ADMIN_TOKEN,
    FLOE_LOCAL_STREAMING: 'off',
    LOG_LEVEL: 'info',
  };
  delete env.DATABASE_URL;
  const child = spawn(process.execPath, [MAIN], { env, stdio: 'pipe' });
  let output = '';
  child.stdout?.on('data', (d) => {
    output += d;
  });
  child.stderr?.on('data', (d) => {
    output += d;
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, output: () => output, exited };
}

async function listening(s: Started): Promise<string> {
  return eventually(async () => {
    const m = s.output().match(/"url":"(http:\/\/[^"]+)"/);
    if (s.child.exitCode !== null) throw new Error(`exited: ${s.output()}`);
    return m?.[1];
  }, 60_000);
}

const call = (url: string, method: string, path: string, body?: unknown) =>
  fetch(url + path, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

describe('a PGlite data folder', () => {
  const started: Started[] = [];
  afterAll(() => {
    for (const s of started) if (s.child.exitCode === null) s.child.kill('SIGKILL');
  });

  it('is refused to a second control plane, naming the folder and the owner’s pid; a killed owner’s lock is taken over', async () => {
    const dataDir = mkdtempSync(join(inject('testbed').tempRoot, 'cp-lock-'));
    const first = start(dataDir);
    started.push(first);
    const url = await listening(first);
    expect((await call(url, 'POST', '/v1/tenants', { slug: 'kept', name: 'Kept' })).status).toBe(
      201,
    );

    const second = start(dataDir);
    started.push(second);
    const stillRunning = new Promise((r) => setTimeout(() => r('still running'), 60_000));
    expect(await Promise.race([second.exited, stillRunning])).toBe(1);
    const folder = join(dataDir, 'pgdata');
    expect(second.output()).toContain(
      `the data folder ${folder} is in use by another control plane (pid ${first.child.pid})`,
    );
    // the first one is untouched and keeps serving
    expect((await call(url, 'GET', '/v1/tenants/kept')).status).toBe(200);

    // killed: its lock stays behind, stale, and the next control plane takes it over
    first.child.kill('SIGKILL');
    await first.exited;
    expect(existsSync(`${folder}.lock`)).toBe(true);
    const third = start(dataDir);
    started.push(third);
    const url3 = await listening(third);
    expect((await call(url3, 'GET', '/v1/tenants/kept')).status).toBe(200);

    // a clean stop removes the lock
    third.child.kill('SIGTERM');
    expect(await third.exited).toBe(0);
    expect(existsSync(`${folder}.lock`)).toBe(false);
  }, 240_000);
});
