// An OCI registry on loopback: Debian's docker-registry (the CNCF distribution registry), with
// its storage in a temporary folder that goes with it. Plain HTTP on 127.0.0.1: clients such
// as skopeo need --dest-tls-verify=false / --src-tls-verify=false.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.ts';
import { type Started, startProcess, waitForPort } from './process.ts';

export interface Registry {
  /** host:port, the prefix of image references pushed to it */
  host: string;
  /** http://host:port, for the registry's HTTP API (/v2/...) */
  url: string;
  dir: string;
  pid: number;
  stop(): Promise<void>;
}

const BINARY = '/usr/bin/docker-registry';

export async function startRegistry(): Promise<Registry> {
  if (!existsSync(BINARY)) {
    throw new Error('docker-registry is not installed; apt-get install -y docker-registry');
  }
  const dir = mkdtempSync(join(tmpdir(), 'floe-registry-'));
  const port = await freePort();
  const config = [
    'version: 0.1',
    'log:',
    '  level: warn',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${join(dir, 'data')}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
  ].join('\n');
  writeFileSync(join(dir, 'config.yml'), `${config}\n`);
  const log = join(dir, 'registry.log');
  // spawns: docker-registry
  const proc: Started = startProcess(BINARY, ['serve', join(dir, 'config.yml')], { log });
  try {
    await waitForPort('127.0.0.1', port, 15_000, 'docker-registry', log);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  const host = `127.0.0.1:${port}`;
  return {
    host,
    url: `http://${host}`,
    dir,
    pid: proc.pid,
    async stop() {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
