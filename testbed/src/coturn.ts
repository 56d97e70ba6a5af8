// coturn (Debian's turnserver) on loopback with the TURN REST scheme (use-auth-secret).
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.ts';
import { type Started, startProcess, waitForPort } from './process.ts';

export interface Coturn {
  url: string; // turn:127.0.0.1:<port>
  host: string;
  port: number;
  realm: string;
  secret: string;
  dir: string;
  pid: number;
  stop(): Promise<void>;
}

export function turnserverPath(): string {
  if (!existsSync('/usr/bin/turnserver')) {
    throw new Error('coturn is not installed; install it with: apt-get install -y coturn');
  }
  return '/usr/bin/turnserver';
}

export async function startCoturn(
  opts: { secret?: string; detached?: boolean; relayPorts?: number } = {},
): Promise<Coturn> {
  const dir = mkdtempSync(join(tmpdir(), 'floe-coturn-'));
  const port = await freePort();
  const secret = opts.secret ?? randomBytes(24).toString('base64url');
  const realm = 'floe.test';
  // Each browser connection holds a relay port until its allocation expires (10 min), so a
  // benchmark that connects many times needs more than the tests' 16.
  const relayPorts = opts.relayPorts ?? 16;
  const relayBase = 49_152 + Math.floor(Math.random() * (16_000 / relayPorts - 1)) * relayPorts;
  // The testbed's relay may reach loopback peers; production configuration (turn/) denies
  // private ranges instead.
  const config = [
    'listening-ip=127.0.0.1',
    `listening-port=${port}`,
    'relay-ip=127.0.0.1',
    `min-port=${relayBase}`,
    `max-port=${relayBase + relayPorts - 1}`,
    'use-auth-secret',
    `static-auth-secret=${secret}`,
    `realm=${realm}`,
    'fingerprint',
    'no-tls',
    'no-dtls',
    'no-cli',
    'no-multicast-peers',
    'allow-loopback-peers',
    `pidfile=${join(dir, 'turnserver.pid')}`,
    'simple-log',
    `log-file=${join(dir, 'turnserver.log')}`,
  ].join('\n');
  writeFileSync(join(dir, 'turnserver.conf'), `${config}\n`, { mode: 0o600 });
  const log = join(dir, 'stdout.log');
  const proc: Started = startProcess(turnserverPath(), ['-c', join(dir, 'turnserver.conf')], {
    log,
    detached: opts.detached,
  });
  try {
    await waitForPort('127.0.0.1', port, 15_000, 'coturn', log);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return {
    url: `turn:127.0.0.1:${port}`,
    host: '127.0.0.1',
    port,
    realm,
    secret,
    dir,
    pid: proc.pid,
    // its folder holds the secret in turnserver.conf: gone with it, unless a detached coturn
    // outlives this process (the testbed CLI removes that one at `down`)
    async stop() {
      await proc.stop();
      if (!opts.detached) rmSync(dir, { recursive: true, force: true });
    },
  };
}
