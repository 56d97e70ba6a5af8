// `testbed up` starts everything and is idempotent; `down` leaves no process behind.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'floe-testbed-cli-'));
const cli = (...args: string[]) =>
  run(process.execPath, [join(import.meta.dirname, '..', 'src', 'cli.ts'), ...args], {
    env: { ...process.env, FLOE_TESTBED_DIR: dir },
    timeout: 120_000,
  });
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('testbed CLI', () => {
  afterAll(async () => {
    await cli('down').catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts, reports, keeps what runs on a second up, and stops everything', async () => {
    const first = JSON.parse((await cli('up')).stdout);
    expect(first.postgres.url).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
    expect(first.coturn.url).toMatch(/^turn:127\.0\.0\.1:\d+$/);
    const discovery = await fetch(`${first.oidc.issuer}/.well-known/openid-configuration`);
    expect((await discovery.json()).issuer).toBe(first.oidc.issuer);
    expect(readFileSync(join(dir, 'env'), 'utf8')).toContain(`DATABASE_URL=${first.postgres.url}`);

    const second = JSON.parse((await cli('up')).stdout);
    expect(second.coturn.pid).toBe(first.coturn.pid);
    expect(second.oidc.pid).toBe(first.oidc.pid);
    expect((await cli('status')).stdout).toMatch(/coturn\s+up/);

    await cli('down');
    expect(alive(first.coturn.pid)).toBe(false);
    expect(alive(first.oidc.pid)).toBe(false);
    await expect(fetch(`${first.oidc.issuer}/.well-known/openid-configuration`)).rejects.toThrow();
    expect((await cli('status')).stdout).toMatch(/postgres\s+down/);
  }, 180_000);

  it('answers a wrong command with a clear error', async () => {
    await expect(cli('sideways')).rejects.toMatchObject({ stderr: /unknown command "sideways"/ });
  });
});
