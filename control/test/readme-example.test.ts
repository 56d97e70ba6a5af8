// The README's control-plane example, run as a reader runs it: the control plane alone
// (`npx node control/src/main.ts` with FLOE_LOCAL_CLUSTER=true) on a fresh PGlite data folder,
// the printed platform-admin key, and the README's shell block itself (bash and curl), with
// only the key and the port filled in. A README that names the wrong port or a route that
// moved fails here.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '@floe/testbed';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { eventually, processesOf } from './harness.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The README's shell block that defines `api`: the control plane's example. */
function readmeExample(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const block = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)]
    .map((m) => m[1] ?? '')
    .find((b) => b.includes('api() {'));
  if (!block) throw new Error('README.md has no shell block defining api()');
  return block;
}

describe("the README's control-plane example", () => {
  let control: ChildProcess;
  let output = '';
  let port: number;
  let token: string;

  beforeAll(async () => {
    port = await freePort();
    const dataDir = mkdtempSync(join(inject('testbed').tempRoot, 'readme-'));
    control = spawn(process.execPath, ['control/src/main.ts'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        PORT: String(port),
        FLOE_DATA_DIR: dataDir,
        FLOE_LOCAL_CLUSTER: 'true',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    control.stdout?.on('data', (d) => {
      output += d;
    });
    control.stderr?.on('data', (d) => {
      output += d;
    });
    token = await eventually(async () => output.match(/^ {2}(floe_\S+)$/m)?.[1], 60_000);
  }, 90_000);

  afterAll(async () => {
    // The control plane leaves sessions running when it stops (they are adopted at the next
    // start): shut them down through the API first, as a reader would.
    const api = (path: string, init?: RequestInit) =>
      fetch(`http://127.0.0.1:${port}${path}`, {
        ...init,
        headers: { authorization: `Bearer ${token}` },
      });
    if (token) {
      const list = (await (await api('/v1/tenants/acme/sessions')).json()) as {
        items?: { id: string }[];
      };
      for (const s of list.items ?? []) {
        await api(`/v1/tenants/acme/sessions/${s.id}`, { method: 'DELETE' });
        await eventually(async () => processesOf(s.id).length === 0, 20_000);
      }
    }
    control?.kill('SIGTERM');
  });

  it('works as written, with the printed key and port', async () => {
    const script = readmeExample()
      .replace(/^T=floe_\.\.\..*$/m, `T=${token}`)
      .replaceAll('localhost:8080', `localhost:${port}`);
    expect(script).toContain(`T=${token}`);
    // spawns: bash (and curl, the README's)
    const run = spawnSync('bash', ['-e', '-c', script], { encoding: 'utf8', timeout: 30_000 });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const replies = run.stdout.trim().split('\n');
    expect(replies).toHaveLength(6);
    const [tenant, user, app, session, list, usage] = replies.map((r) => JSON.parse(r));
    expect(tenant).toMatchObject({ slug: 'acme', name: 'Acme' });
    expect(user).toMatchObject({ email: 'ada@acme.test', role: 'member' });
    expect(app).toMatchObject({ slug: 'xterm', name: 'Terminal' });
    expect(session).toMatchObject({ appId: app.id, userId: user.id, state: 'placed' });
    expect(list.items).toEqual([expect.objectContaining({ id: session.id })]);
    expect(usage).toBeTypeOf('object');
    // the session it launched runs: its endpoint appears, as the README's comment says
    const running = await eventually(async () => {
      const r = spawnSync(
        'curl',
        [
          '-sf',
          '-H',
          `Authorization: Bearer ${token}`,
          `localhost:${port}/v1/tenants/acme/sessions`,
        ],
        { encoding: 'utf8' },
      );
      const items = (JSON.parse(r.stdout || '{}').items ?? []) as { endpoint?: string }[];
      return items[0]?.endpoint?.match(/^http:\/\/127\.0\.0\.1:\d+\/$/) ? items[0] : undefined;
    }, 30_000);
    expect(running.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
  }, 60_000);
});
