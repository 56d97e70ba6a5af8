// the type of inject('testbed')

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@floe/testbed';
import type {} from '@floe/testbed/vitest-setup';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { main } from '../src/cli.ts';
import { turnPassword } from '../src/credentials.ts';

const SECRET = 'c3VwZXItc2VjcmV0LWN1cnJlbnQ';

async function cli(...argv: string[]) {
  let out = '';
  let err = '';
  const status = await main(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { status, out, err };
}

describe('turn cli', () => {
  const dir = mkdtempSync(join(tmpdir(), 'floe-turn-cli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints help with --help and exits 0', async () => {
    const { status, out } = await cli('config', '--help');
    expect(status).toBe(0);
    expect(out).toMatch(/^Usage: npx node turn\/src\/cli\.ts <command>/);
  });

  it('prints a config, with secrets from flags or files', async () => {
    const file = join(dir, 'previous-secret');
    writeFileSync(file, 'cHJldmlvdXMtc2VjcmV0LXZhbHVl\n');
    const { status, out } = await cli(
      'config',
      ...['--secret', SECRET, '--secret-file', file, '--realm', 'turn.floe.example'],
      ...['--pod-cidr', '10.244.0.0/16', '--pod-cidr', 'fd00:10:244::/56'],
      ...['--min-port', '50000', '--max-port', '50999', '--no-prometheus'],
    );
    expect(status).toBe(0);
    expect(out).toContain(
      `static-auth-secret=${SECRET}\nstatic-auth-secret=cHJldmlvdXMtc2VjcmV0LXZhbHVl\n`,
    );
    expect(out).toContain('allowed-peer-ip=10.244.0.0-10.244.255.255\n');
    expect(out).toContain('allowed-peer-ip=fd00:10:244::-fd00:10:244:ff:ffff:ffff:ffff:ffff\n');
    expect(out).toContain('min-port=50000\nmax-port=50999\n');
    expect(out).not.toMatch(/^prometheus/m);
    expect(out).not.toContain('allow-loopback-peers');
  });

  it('writes the config to --out, readable by its owner only', async () => {
    const file = join(dir, 'turnserver.conf');
    const { status, out } = await cli(
      ...['config', '--secret', SECRET, '--realm', 'turn.floe.example', '--out', file],
    );
    expect(status).toBe(0);
    expect(out).toBe('');
    expect(readFileSync(file, 'utf8')).toContain(`static-auth-secret=${SECRET}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('mints credentials as JSON', async () => {
    const { status, out } = await cli(
      'credentials',
      '--secret',
      SECRET,
      '--session',
      's-1',
      '--ttl',
      '60',
    );
    expect(status).toBe(0);
    const creds = JSON.parse(out) as { username: string; credential: string; expiresAt: string };
    expect(creds.username).toMatch(/^\d+:s-1$/);
    expect(creds.credential).toBe(turnPassword(SECRET, creds.username));
    expect(Date.parse(creds.expiresAt) / 1000).toBe(Number(creds.username.split(':')[0]));
  });

  it.each([
    [['config', '--realm', 'r.example'], /--secret or --secret-file is required/],
    [['config', '--secret', SECRET], /--realm is required/],
    [
      ['config', '--secret', SECRET, '--realm', 'r', '--port', 'x'],
      /--port must be a whole number/,
    ],
    [['config', '--secret', SECRET, '--realm', 'r', '--pod-cidr', '10.244.1.0/16'], /did you mean/],
    [['config', '--secret', SECRET, '--realm', 'r', '--tls-cert', '/c'], /go together/],
    [['config', '--secret', SECRET, '--realm', 'r', '--bogus'], /Unknown option '--bogus'/],
    [['config', '--secret-file', '/nonexistent/secret', '--realm', 'r'], /ENOENT/],
    [['credentials', '--secret', SECRET, '--session', 'a:b'], /contains ':'/],
    [['credentials', '--secret', SECRET, '--secret', 'x', '--session', 's'], /give one --secret/],
    [['probe', '--secret', SECRET, '--url', 'http://turn.example'], /bad TURN URL/],
    [['probe', '--secret', SECRET], /--url is required/],
    [['rotate'], /unknown command "rotate"/],
  ])('exits 2 on %j', async (argv, error) => {
    const { status, err, out } = await cli(...argv);
    expect({ status, out }).toEqual({ status: 2, out: '' });
    expect(err).toMatch(error);
    expect(err).toContain('See --help.');
  });

  it('probes a server as a program: exit 0 when healthy, 1 when not', async () => {
    const { url, secret } = inject('testbed').turn;
    const run = (...args: string[]) =>
      spawnSync(process.execPath, ['turn/src/cli.ts', 'probe', ...args], { encoding: 'utf8' });
    const healthy = run('--url', `${url}?transport=tcp`, '--secret', secret);
    // with its stderr, so that a failure says why (CI once saw status 2 here, unexplained)
    expect({ status: healthy.status, stderr: healthy.stderr }).toEqual({ status: 0, stderr: '' });
    expect(JSON.parse(healthy.stdout)).toMatchObject({ ok: true, rttMs: expect.any(Number) });

    const closed = `turn:127.0.0.1:${await freePort()}?transport=tcp`;
    const unhealthy = run('--url', closed, '--secret', secret, '--timeout', '2000');
    expect(unhealthy.status).toBe(1);
    expect(JSON.parse(unhealthy.stdout)).toMatchObject({ url: closed, ok: false });

    const usage = run('--url', closed);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/--secret or --secret-file is required/);
  });
});
