// `testbed up` starts everything and is idempotent; `down` leaves no process behind.
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureKubernetesBinaries } from '../src/kubernetes.ts';
import { isAlive } from '../src/process.ts';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'floe-testbed-cli-'));
const cli = (...args: string[]) =>
  run(process.execPath, [join(import.meta.dirname, '..', 'src', 'cli.ts'), ...args], {
    env: { ...process.env, FLOE_TESTBED_DIR: dir },
    timeout: 120_000,
  });

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
    expect(isAlive(first.coturn.pid)).toBe(false);
    expect(isAlive(first.oidc.pid)).toBe(false);
    await expect(fetch(`${first.oidc.issuer}/.well-known/openid-configuration`)).rejects.toThrow();
    expect((await cli('status')).stdout).toMatch(/postgres\s+down/);
  }, 180_000);

  it('starts Kubernetes clusters with GPU nodes, and down deletes them', async () => {
    const state = JSON.parse((await cli('up', '--clusters', '1')).stdout);
    const [cluster] = state.kubernetes.clusters;
    expect(cluster).toMatchObject({ name: 'eu-west', region: 'eu-west' });
    const { paths } = await ensureKubernetesBinaries({ onProgress: () => {} });
    const nodes = JSON.parse(
      (await run(paths.kubectl, ['--kubeconfig', cluster.kubeconfig, 'get', 'nodes', '-o', 'json']))
        .stdout,
    );
    const gpus = nodes.items.map((n: { status: { capacity: Record<string, string> } }) =>
      Number(n.status.capacity['nvidia.com/gpu'] ?? 0),
    );
    expect(gpus.filter((g: number) => g === 8)).toHaveLength(4);
    // up again keeps the running cluster
    const again = JSON.parse((await cli('up', '--clusters', '1')).stdout);
    expect(again.kubernetes.clusters[0].kubeconfig).toBe(cluster.kubeconfig);
    await cli('down');
    await expect(
      run(paths.kubectl, ['--kubeconfig', cluster.kubeconfig, 'get', 'nodes'], { timeout: 10_000 }),
    ).rejects.toThrow();
    // no process of the cluster is left (kwokctl runs them from the state folder)
    expect(spawnSync('pgrep', ['-f', dir]).status).toBe(1);
  }, 300_000);

  it('answers a wrong command with a clear error', async () => {
    await expect(cli('sideways')).rejects.toMatchObject({ stderr: /unknown command "sideways"/ });
  });
});
