// A throwaway PostgreSQL cluster (Debian's postgresql) in a temp folder, on loopback.
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.ts';

function postgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  const found = versions
    .map((v) => join(root, v, 'bin'))
    .find((d) => existsSync(join(d, 'initdb')));
  if (!found) {
    throw new Error(
      'PostgreSQL server binaries not found under /usr/lib/postgresql; install them with: ' +
        'apt-get install -y postgresql (npm test does this when run as root)',
    );
  }
  return found;
}

/** Runs a PostgreSQL program, as the postgres user when we are root (it refuses root). */
function runAsPostgres(bin: string, dir: string, cmd: string, args: string[]) {
  const [file, argv] =
    process.getuid?.() === 0
      ? ['runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]]
      : [join(bin, cmd), args];
  // spawns: runuser initdb pg_ctl
  const r = spawnSync(file, argv, { encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`${cmd} failed (log: ${join(dir, 'postgres.log')}): ${r.stderr || r.stdout}`);
  }
}

/** Stops a server startPostgres started (possibly in another process) and removes its folder. */
export function stopPostgres({ dir, bin }: { dir: string; bin: string }) {
  try {
    runAsPostgres(bin, dir, 'pg_ctl', ['-D', join(dir, 'data'), '-m', 'immediate', '-w', 'stop']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface Postgres {
  /** superuser URL of the `postgres` database */
  url: string;
  dir: string;
  /** the server's binaries (pgbench, psql) */
  bin: string;
  stop(): void;
  /**
   * Stops the server (`pg_ctl stop -m fast`: sessions are terminated) and leaves it down,
   * data kept, until `resume()`; for tests of riding out a database restart.
   */
  pause(): void;
  /** Starts a server `pause()` stopped, on the same port and settings. */
  resume(): void;
}

/**
 * initdb + pg_ctl start on a free port of 127.0.0.1; `stop()` removes every trace. As
 * root it runs as the `postgres` user, since PostgreSQL refuses to run as root.
 */
export async function startPostgres(
  opts: { maxConnections?: number; durable?: boolean } = {},
): Promise<Postgres> {
  const bin = postgresBinDir();
  const dir = mkdtempSync(join(tmpdir(), 'floe-pg-'));
  const data = join(dir, 'data');
  const port = await freePort();
  const asRoot = process.getuid?.() === 0;
  const run = (cmd: string, args: string[]) => runAsPostgres(bin, dir, cmd, args);
  if (asRoot) {
    const id = (flag: string) =>
      Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, id('-u'), id('-g'));
  }
  run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8']);
  const settings = [
    `-p ${port}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    `-c max_connections=${opts.maxConnections ?? 300}`,
    // tests throw the data away; benchmarks ask for a durable server
    ...(opts.durable ? [] : ['-c fsync=off', '-c synchronous_commit=off']),
  ];
  const start = () =>
    run('pg_ctl', [
      '-D',
      data,
      '-l',
      join(dir, 'postgres.log'),
      '-w',
      '-t',
      '60',
      '-o',
      settings.join(' '),
      'start',
    ]);
  start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    dir,
    bin,
    stop: () => stopPostgres({ dir, bin }),
    pause: () => run('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '60', 'stop']),
    resume: start,
  };
}
