// Real coturn for the tests, started from renderCoturnConfig's output on loopback.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@floe/testbed';
import { type CoturnSettingsInput, renderCoturnConfig } from '../src/config.ts';
import { DEFAULT_TURNSERVER, detectCoturnFeatures } from '../src/features.ts';

export interface TestCoturn {
  port: number;
  realm: string;
  configFile: string;
  /** what turnserver printed so far */
  log(): string;
  url(transport: 'udp' | 'tcp'): string;
  /** turns:127.0.0.1:<tlsPort> when started with tls */
  tlsUrl: string | undefined;
  stop(): Promise<void>;
}

export const REALM = 'floe.test';

export function newSecret(): string {
  return randomBytes(24).toString('base64url');
}

export const installedFeatures = detectCoturnFeatures();

export async function startTestCoturn(
  settings: Omit<CoturnSettingsInput, 'realm'> & { realm?: string },
  edit: (config: string) => string = (c) => c,
): Promise<TestCoturn> {
  const dir = mkdtempSync(join(tmpdir(), 'floe-turn-test-'));
  const port = await freePort();
  const relayBase = 49_152 + Math.floor(Math.random() * 1_000) * 16;
  const configFile = join(dir, 'turnserver.conf');
  const tlsPort = settings.tls ? await freePort() : undefined;
  writeFileSync(
    configFile,
    edit(
      renderCoturnConfig({
        realm: REALM,
        listeningIps: ['127.0.0.1'],
        relayIps: ['127.0.0.1'],
        port,
        relayPorts: { min: relayBase, max: relayBase + 15 },
        pidFile: join(dir, 'turnserver.pid'),
        prometheus: installedFeatures.prometheus ? { port: await freePort() } : false,
        tlsPort,
        ...settings,
      }),
    ),
  );
  const log = join(dir, 'turnserver.log');
  const out = openSync(log, 'a');
  // spawns: turnserver
  const child = spawn(DEFAULT_TURNSERVER, ['-c', configFile], { stdio: ['ignore', out, out] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    await stopChild(child, exited);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForListener(port, exited, log);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    port,
    realm: REALM,
    configFile,
    log: () => readFileSync(log, 'utf8'),
    url: (transport) => `turn:127.0.0.1:${port}?transport=${transport}`,
    tlsUrl: tlsPort === undefined ? undefined : `turns:127.0.0.1:${tlsPort}`,
    stop,
  };
}

/** Until coturn accepts TCP on its port; fails at once if it exits, with its log. */
async function waitForListener(port: number, exited: Promise<void>, log: string) {
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (gone) throw new Error(`turnserver exited at start:\n${readFileSync(log, 'utf8')}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`turnserver did not listen on ${port}; see ${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stopChild(child: ChildProcess, exited: Promise<void>) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(killer);
}

/** A throwaway self-signed certificate for 127.0.0.1, made by openssl. */
export function selfSignedCertificate() {
  const dir = mkdtempSync(join(tmpdir(), 'floe-turn-tls-'));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
      ...['-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=floe-turn-test'],
      ...['-addext', 'subjectAltName=IP:127.0.0.1'],
    ],
    { stdio: 'ignore' },
  );
  return {
    certFile,
    keyFile,
    pem: readFileSync(certFile, 'utf8'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
