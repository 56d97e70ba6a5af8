// npm run testbed -- up [--clusters N] | down | status | --help

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chromiumPath } from './chromium.ts';
import { startCoturn } from './coturn.ts';
import { freePort } from './free-port.ts';
import { ensureK6 } from './k6.ts';
import {
  ensureKubernetesBinaries,
  type KubernetesCluster,
  type KubernetesClusterSpec,
  startKubernetesClusters,
  stopKubernetesClusters,
} from './kubernetes.ts';
import { TEST_USERS } from './oidc.ts';
import { startPostgres, stopPostgres } from './postgres.ts';
import { isAlive, startProcess, stopProcessGroup, waitForPort } from './process.ts';

const HELP = `Usage: npm run testbed -- <command> [options]

Starts Floe's real dependencies on loopback, for tests, benchmarks and development.

Commands:
  up        start them (again: what runs already is kept) and print what tests need
  down      stop all of it; no process is left behind
  status    what runs, from the state file

Options:
  --clusters N   Kubernetes clusters to start with up (default 0)
  --help         this text

State: .floe/testbed/state.json (FLOE_TESTBED_DIR moves it); the same as environment
variables: .floe/testbed/env.
Logs: in each component's folder, named in the state file.`;

const root = resolve(dirname(new URL(import.meta.url).pathname), '..', '..');
const stateDir = process.env.FLOE_TESTBED_DIR ?? join(root, '.floe', 'testbed');
const stateFile = join(stateDir, 'state.json');

interface State {
  postgres?: { url: string; dir: string; bin: string };
  coturn?: { url: string; secret: string; realm: string; pid: number; dir: string };
  oidc?: {
    issuer: string;
    pid: number;
    log: string;
    client: { clientId: string; clientSecret: string; redirectUris: string[] };
    users: { email: string; password: string; tenant: string; roles: string[] }[];
  };
  kubernetes?: { workDir: string; clusters: KubernetesCluster[] };
  chromium?: string;
  k6?: string;
}

// Regions and GPU SKUs of the clusters `up --clusters N` starts, in order.
const CLUSTER_CATALOG = [
  { region: 'eu-west', sku: 'a100' },
  { region: 'us-east', sku: 'l4' },
  { region: 'ap-south', sku: 'h100' },
];

function clusterSpecs(n: number): KubernetesClusterSpec[] {
  return Array.from({ length: n }, (_, i) => {
    const { region, sku } = CLUSTER_CATALOG[i] ?? { region: `region-${i + 1}`, sku: 'l4' };
    return { name: region, region, gpuNodes: [{ sku, count: 4, gpusPerNode: 8 }], cpuNodes: 2 };
  });
}

/** Whether every cluster of the state answers /readyz. */
async function clustersReady(k8s: State['kubernetes'], n: number): Promise<boolean> {
  if (!k8s || k8s.clusters.length !== n) return false;
  const { paths } = await ensureKubernetesBinaries({ onProgress: () => {} });
  return k8s.clusters.every(
    (c) =>
      // spawns: kubectl
      spawnSync(paths.kubectl, ['--kubeconfig', c.kubeconfig, 'get', '--raw', '/readyz'], {
        timeout: 10_000,
      }).status === 0,
  );
}

const readState = (): State =>
  existsSync(stateFile) ? JSON.parse(readFileSync(stateFile, 'utf8')) : {};

function writeState(state: State) {
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(stateFile, `${JSON.stringify(state, null, 2)}\n`);
  const env = {
    DATABASE_URL: state.postgres?.url,
    FLOE_TURN_URL: state.coturn?.url,
    FLOE_TURN_SECRET: state.coturn?.secret,
    FLOE_OIDC_ISSUER: state.oidc?.issuer,
    FLOE_OIDC_CLIENT_ID: state.oidc?.client.clientId,
    FLOE_OIDC_CLIENT_SECRET: state.oidc?.client.clientSecret,
    FLOE_KUBECONFIGS: state.kubernetes?.clusters
      .map((c) => `${c.region}=${c.kubeconfig}`)
      .join(','),
    CHROMIUM_PATH: state.chromium,
    K6_PATH: state.k6,
  };
  const lines = Object.entries(env).filter(([, v]) => v !== undefined);
  writeFileSync(join(stateDir, 'env'), `${lines.map(([k, v]) => `${k}=${v}`).join('\n')}\n`);
}

/** A server of ours whose postmaster still runs (a crash or a reboot leaves only the folder). */
function postgresAlive(pg: State['postgres']) {
  const pidFile = pg && join(pg.dir, 'data', 'postmaster.pid');
  return (
    !!pidFile &&
    existsSync(pidFile) &&
    isAlive(Number(readFileSync(pidFile, 'utf8').split('\n')[0]))
  );
}

const step = (what: string) => process.stderr.write(`testbed: ${what}\n`);

async function up(clusters: number) {
  const state = readState();
  if (!postgresAlive(state.postgres)) {
    if (state.postgres) rmSync(state.postgres.dir, { recursive: true, force: true }); // stale
    step('starting PostgreSQL...');
    const pg = await startPostgres();
    state.postgres = { url: pg.url, dir: pg.dir, bin: pg.bin };
  }
  if (!isAlive(state.coturn?.pid)) {
    step('starting coturn...');
    const turn = await startCoturn({ detached: true });
    state.coturn = {
      url: turn.url,
      secret: turn.secret,
      realm: turn.realm,
      pid: turn.pid,
      dir: turn.dir,
    };
  }
  if (!isAlive(state.oidc?.pid)) {
    step('starting the OpenID Provider...');
    const port = await freePort();
    const client = {
      clientId: 'floe-dev',
      clientSecret: randomBytes(24).toString('base64url'),
      redirectUris: ['http://127.0.0.1:8080/auth/callback', 'http://localhost:8080/auth/callback'],
    };
    mkdirSync(stateDir, { recursive: true });
    const log = join(stateDir, 'oidc.log');
    const server = join(root, 'testbed', 'src', 'oidc-server.ts');
    const proc = startProcess(
      process.execPath,
      [server, String(port), client.clientId, client.clientSecret, ...client.redirectUris],
      { log, detached: true },
    );
    await waitForPort('127.0.0.1', port, 15_000, 'the OpenID Provider', log);
    state.oidc = {
      issuer: `http://127.0.0.1:${port}`,
      pid: proc.pid,
      log,
      client,
      users: TEST_USERS.map(({ email, password, tenant, roles }) => ({
        email,
        password,
        tenant,
        roles,
      })),
    };
  }
  if (clusters > 0 && !(await clustersReady(state.kubernetes, clusters))) {
    if (state.kubernetes) {
      await stopKubernetesClusters(
        state.kubernetes.workDir,
        state.kubernetes.clusters.map((c) => c.name),
      );
    }
    const workDir = join(stateDir, 'kubernetes');
    step(`starting ${clusters} Kubernetes cluster(s) (the first time builds them: minutes)...`);
    const k8s = await startKubernetesClusters({
      clusters: clusterSpecs(clusters),
      workDir,
      onProgress: step,
    });
    state.kubernetes = { workDir, clusters: k8s.clusters };
  }
  state.chromium = chromiumPath();
  state.k6 = ensureK6(step);
  writeState(state);
  process.stdout.write(`${JSON.stringify(state, null, 2)}\n`);
  step(`state in ${stateFile}; environment in ${join(stateDir, 'env')}`);
}

async function down() {
  const state = readState();
  if (state.kubernetes) {
    const { workDir, clusters } = state.kubernetes;
    await stopKubernetesClusters(
      workDir,
      clusters.map((c) => c.name),
    );
  }
  if (state.oidc?.pid) await stopProcessGroup(state.oidc.pid);
  if (state.coturn?.pid) await stopProcessGroup(state.coturn.pid);
  if (state.coturn?.dir) rmSync(state.coturn.dir, { recursive: true, force: true });
  if (state.postgres && existsSync(state.postgres.dir)) stopPostgres(state.postgres);
  rmSync(stateFile, { force: true });
  rmSync(join(stateDir, 'env'), { force: true });
  step('stopped');
}

function status() {
  const state = readState();
  const rows: [string, string, boolean][] = [
    ['postgres', state.postgres?.url ?? '-', postgresAlive(state.postgres)],
    ['coturn', state.coturn?.url ?? '-', isAlive(state.coturn?.pid)],
    ['oidc', state.oidc?.issuer ?? '-', isAlive(state.oidc?.pid)],
    ['chromium', state.chromium ?? '-', !!state.chromium && existsSync(state.chromium)],
    ['k6', state.k6 ?? '-', !!state.k6 && existsSync(state.k6)],
    ...(state.kubernetes?.clusters ?? []).map((c): [string, string, boolean] => [
      `k8s ${c.region}`,
      c.kubeconfig,
      existsSync(c.kubeconfig),
    ]),
  ];
  for (const [name, where, ok] of rows) {
    process.stdout.write(`${name.padEnd(10)} ${(ok ? 'up' : 'down').padEnd(5)} ${where}\n`);
  }
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { clusters: { type: 'string', default: '0' }, help: { type: 'boolean' } },
});
const command = positionals[0];
try {
  if (values.help || !command) {
    process.stdout.write(`${HELP}\n`);
  } else if (command === 'up') {
    const n = Number(values.clusters);
    if (!Number.isInteger(n) || n < 0) throw new Error('--clusters takes a whole number');
    await up(n);
  } else if (command === 'down') {
    await down();
  } else if (command === 'status') {
    status();
  } else {
    throw new Error(`unknown command "${command}"; see --help`);
  }
} catch (err) {
  process.stderr.write(`testbed: ${(err as Error).message}\n`);
  process.exit(1);
}
