// Kubernetes launch benchmark: N sessions launched at a steady rate through the control
// plane's API across three real clusters (kube-apiserver, etcd, scheduler and
// controller-manager from the testbed, KWOK GPU nodes), each with its own Floe operator.
// Prints numbers, asserts none. `node loadtest/k8s-launch.ts --help`.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { sessionCrd } from '@floe/operator/crd';
import {
  ensureK6,
  freePort,
  K6_ENV,
  type KubernetesClusterSpec,
  type KubernetesClusters,
  type Postgres,
  startKubernetesClusters,
  startPostgres,
} from '@floe/testbed';
import pg from 'pg';

const HELP = `Kubernetes launch benchmark: node loadtest/k8s-launch.ts [flags]
(with Node 24: PATH=$PWD/node_modules/.bin:$PATH)

  --sessions N     sessions to launch (default 1000)
  --rate R         launches per second, constant arrival rate (k6) (default 50)
  --nodes N        GPU nodes per cluster, 8 GPUs each (default 60)
  --persistence    give every session a home volume (a PVC bound by the PV controller)
  --replicas N     control-plane replicas on the one PostgreSQL (default 1); launches go to
                   the first, the reads below to each
  --reads N        after every session runs: N reads of the session list (a page of 50) and
                   N of the month's usage from each replica, timed (default 200)
  --keep           keep the temporary folder (logs, k6 output)

Three clusters (eu-west/a100, us-east/l4, ap-south/h100) start from the testbed, each with
its operator as its own process; the control plane runs as a process on a PostgreSQL server
(fsync on). A tenant with one app per SKU and one user per session is set up through the
API, then k6 launches --sessions sessions at --rate per second, each for another user,
cycling over the apps, so placement sends each to the cluster with its SKU.

Measured: launch→running per session (k6's request start to the session's 'running'
event in the control plane's database), the launch requests' latency, operator
reconciles per second, Kubernetes API requests per session (Floe's own, counted by the
operator and the control plane, and all clients' as the API servers count them), peak
memory (VmHWM) of the operators and the control plane, and CPU seconds by component.`;

const { values: args } = parseArgs({
  options: {
    sessions: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '50' },
    nodes: { type: 'string', default: '60' },
    persistence: { type: 'boolean', default: false },
    replicas: { type: 'string', default: '1' },
    reads: { type: 'string', default: '200' },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log(HELP);
  process.exit(0);
}
const sessionCount = Number(args.sessions);
const rate = Number(args.rate);
const nodesPerCluster = Number(args.nodes);
const replicaCount = Number(args.replicas);
const readCount = Number(args.reads);
if (
  ![sessionCount, rate, nodesPerCluster, replicaCount, readCount].every(
    (n) => Number.isInteger(n) && n > 0,
  )
) {
  console.error('--sessions, --rate, --nodes, --replicas and --reads take positive integers\n');
  console.error(HELP);
  process.exit(2);
}

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'floe-k8s-bench-'));
const log = (line: string) => console.error(`[bench] ${line}`);

const CLUSTERS: KubernetesClusterSpec[] = [
  { name: 'bench-eu', region: 'eu-west', gpuNodes: [], cpuNodes: 1 },
  { name: 'bench-us', region: 'us-east', gpuNodes: [], cpuNodes: 1 },
  { name: 'bench-ap', region: 'ap-south', gpuNodes: [], cpuNodes: 1 },
].map((c, i) => ({
  ...c,
  gpuNodes: [{ sku: ['a100', 'l4', 'h100'][i] as string, count: nodesPerCluster, gpusPerNode: 8 }],
}));

// ---------------------------------------------------------------- processes

interface Proc {
  name: string;
  child: ChildProcess;
}
const procs: Proc[] = [];

function startNode(name: string, script: string, argv: string[], env: NodeJS.ProcessEnv): Proc {
  const out = openSync(join(dir, `${name}.log`), 'a');
  const child = spawn(process.execPath, [join(root, script), ...argv], {
    env: { ...process.env, ...env },
    stdio: ['ignore', out, out],
  });
  const proc = { name, child };
  procs.push(proc);
  return proc;
}

/** /proc/<pid>/status VmHWM (peak resident set) in MiB. */
function peakRssMiB(pid: number): number {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmHWM:\s+(\d+) kB/m);
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/** CPU seconds (user+system) of a live process. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** The components of the testbed's clusters, by kwokctl's pid files. */
function clusterPids(workDir: string): { component: string; pid: number }[] {
  const base = join(workDir, 'kwok', 'clusters');
  return readdirSync(base).flatMap((cluster) =>
    readdirSync(join(base, cluster, 'pids')).map((file) => ({
      component: file.replace(/\.pid$/, ''),
      pid: Number(readFileSync(join(base, cluster, 'pids', file), 'utf8').trim()),
    })),
  );
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function scrape(url: string): Promise<string> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: ${res.status}`);
  return res.text();
}

/** Sum of a Prometheus counter's samples, optionally only those whose labels match. */
function sumMetric(text: string, name: string, match: (labels: string) => boolean = () => true) {
  let total = 0;
  for (const line of text.split('\n')) {
    const m = line.match(/^(\w+)(?:\{([^}]*)\})? (\S+)/);
    if (m && m[1] === name && match(m[2] ?? '')) total += Number(m[3]);
  }
  return total;
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * p) - 1)] ?? Number.NaN;

// ---------------------------------------------------------------- run

let k8s: KubernetesClusters | undefined;
let postgres: Postgres | undefined;

async function main() {
  log(`folder ${dir}`);
  postgres = await startPostgres({ durable: true });
  const workDir = join(tmpdir(), 'floe-k8s-bench');
  k8s = await startKubernetesClusters({
    workDir,
    clusters: CLUSTERS,
    istio: true,
    storage: { pvs: args.persistence ? Math.ceil(sessionCount / 3) + 20 : 0 },
    onProgress: log,
  });
  for (const c of k8s.clusters) {
    await k8s.kubectl(c, ['apply', '--server-side', '-f', '-'], JSON.stringify(sessionCrd));
  }

  const operators = await Promise.all(
    k8s.clusters.map(async (c) => {
      const port = await freePort();
      const proc = startNode(
        `operator-${c.name}`,
        'operator/src/main.ts',
        ['--kubeconfig', c.kubeconfig, '--metrics-addr', `127.0.0.1:${port}`],
        { LOG_LEVEL: 'warn' },
      );
      return { cluster: c, proc, metrics: `http://127.0.0.1:${port}/metrics` };
    }),
  );

  const adminToken = randomBytes(24).toString('base64url');
  const databaseUrl = postgres.url;
  const secretKey = randomBytes(32).toString('base64');
  const controls = await Promise.all(
    Array.from({ length: replicaCount }, async (_, n) => {
      const port = await freePort();
      const proc = startNode(`control-${n}`, 'control/src/main.ts', [], {
        PORT: String(port),
        DATABASE_URL: databaseUrl,
        FLOE_DATA_DIR: join(dir, `control-${n}`),
        FLOE_ADMIN_TOKEN: adminToken,
        FLOE_SECRET_KEY: secretKey,
        FLOE_DB_POOL_SIZE: '20',
        LOG_LEVEL: 'warn',
      });
      return { proc, base: `http://127.0.0.1:${port}` };
    }),
  );
  const base = (controls[0] as (typeof controls)[number]).base;
  const api = async (method: string, path: string, body?: unknown, token = adminToken) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  for (const c of controls) {
    await until('the control plane', 60_000, () =>
      fetch(`${c.base}/healthz`).then((r) => r.ok || undefined),
    );
  }
  for (const o of operators) {
    await until(`operator ${o.cluster.name}`, 60_000, () => scrape(o.metrics).then(() => true));
  }

  log('registering clusters, tenant, apps and users');
  for (const c of k8s.clusters) {
    await api('POST', '/v1/clusters', {
      name: c.name,
      region: c.region,
      driver: 'kubernetes',
      kubeconfig: readFileSync(c.kubeconfig, 'utf8'),
    });
  }
  await api('POST', '/v1/tenants', { slug: 'bench', name: 'Bench' });
  const apps = ['a100', 'l4', 'h100'];
  for (const sku of apps) {
    await api('POST', '/v1/tenants/bench/apps', {
      slug: `app-${sku}`,
      name: `App on ${sku}`,
      image: 'registry.example/floe/xterm:1',
      resources: { cpu: '2', memory: '4Gi', gpus: { sku, count: 1 } },
      persistence: args.persistence ? { size: '1Gi' } : null,
    });
  }
  const users: string[] = [];
  for (let i = 0; i < sessionCount; i++) {
    const user = await api('POST', '/v1/tenants/bench/users', {
      email: `user${i}@bench.test`,
      role: 'member',
    });
    users.push(user.id);
  }
  const { token } = await api('POST', '/v1/tenants/bench/api-keys', {
    name: 'bench',
    role: 'tenant-admin',
  });
  // every cluster's capacity known to placement before the clock starts
  await until('live capacity of every cluster', 60_000, async () => {
    const page = await api('GET', '/v1/clusters');
    const k = page.items.filter((c: { driver: string }) => c.driver === 'kubernetes');
    return k.length === 3 && k.every((c: { status?: string }) => c.status === 'connected')
      ? true
      : undefined;
  });

  const before = await snapshot(operators);
  log(`launching ${sessionCount} sessions at ${rate}/s`);
  const k6 = ensureK6(log);
  const script = fileURLToPath(new URL('launch.k6.js', import.meta.url));
  const k6Log = join(dir, 'k6-launches.jsonl');
  const usersFile = join(dir, 'users.txt');
  writeFileSync(usersFile, `${users.join('\n')}\n`);
  const started = Date.now();
  await new Promise<void>((resolve, reject) => {
    // spawns: k6
    const child = spawn(
      k6,
      ['run', '-q', '--log-format=raw', `--log-output=file=${k6Log}`, script],
      {
        env: {
          ...process.env,
          ...K6_ENV,
          BASE: base,
          TOKEN: token,
          TENANT: 'bench',
          APPS: apps.map((s) => `app-${s}`).join(','),
          USERS_FILE: usersFile,
          RATE: String(rate),
          COUNT: String(sessionCount),
        },
        stdio: ['ignore', 'inherit', 'inherit'],
      },
    );
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`k6 exit ${code}`))));
  });
  const launches = readFileSync(k6Log, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { id: string | null; t0: number; status: number; ms: number });
  const admitted = launches.filter((l) => l.id);
  log(`${admitted.length} of ${launches.length} launches admitted; waiting for running`);

  const db = new pg.Client({ connectionString: postgres.url });
  await db.connect();
  await until('every session running', 300_000, async () => {
    const { rows } = await db.query(
      "select count(*)::int as n from sessions where state = 'running'",
    );
    const n = rows[0].n as number;
    return n >= admitted.length ? true : undefined;
  }).catch((err) => log(String(err)));
  const windowS = (Date.now() - started) / 1000;
  const after = await snapshot(operators);
  const reads = await timeReads();

  const { rows } = await db.query(
    `select s.id, s.state, c.name as cluster, s.gpu_sku,
            extract(epoch from s.created_at) * 1000 as placed_ms,
            (select extract(epoch from e.at) * 1000 from session_events e
              where e.session_id = s.id and e.to_state = 'starting' order by e.id limit 1) as starting_ms,
            (select extract(epoch from e.at) * 1000 from session_events e
              where e.session_id = s.id and e.to_state = 'running' order by e.id limit 1) as running_ms
       from sessions s join clusters c on c.id = s.cluster_id`,
  );
  await db.end();
  const byId = new Map(rows.map((r) => [r.id as string, r]));
  const toRunning = admitted
    .map((l) => {
      const r = byId.get(l.id as string);
      return r?.running_ms ? Number(r.running_ms) - l.t0 : Number.NaN;
    })
    .filter((ms) => Number.isFinite(ms))
    .sort((a, b) => a - b);
  // where the time goes: admission, then the Session's first status, then Running
  const stage = (from: string, to: string) =>
    rows
      .filter((r) => r[from] && r[to])
      .map((r) => Number(r[to]) - Number(r[from]))
      .sort((a, b) => a - b);
  const placedToStarting = stage('placed_ms', 'starting_ms');
  const startingToRunning = stage('starting_ms', 'running_ms');
  const launchMs = launches.map((l) => l.ms).sort((a, b) => a - b);
  const misplaced = rows.filter(
    (r) => CLUSTERS.find((c) => c.name === r.cluster)?.gpuNodes[0]?.sku !== r.gpu_sku,
  ).length;
  const perCluster = Object.fromEntries(
    CLUSTERS.map((c) => [c.name, rows.filter((r) => r.cluster === c.name).length]),
  );

  const floeRequests =
    after.operatorRequests -
    before.operatorRequests +
    after.controlRequests -
    before.controlRequests;
  const apiserverRequests = after.apiserverRequests - before.apiserverRequests;
  const reconciles = after.reconciles - before.reconciles;

  console.log(`\n## Kubernetes launch: ${sessionCount} sessions at ${rate}/s, 3 clusters\n`);
  console.log(`| measure | value |\n| --- | --- |`);
  const row = (k: string, v: string) => console.log(`| ${k} | ${v} |`);
  row('launches admitted', `${admitted.length} of ${launches.length}`);
  row('running', `${toRunning.length}`);
  row('per cluster', JSON.stringify(perCluster));
  row('on a cluster without its SKU', String(misplaced));
  row(
    'launch → running p50 / p90 / p99 / max (ms)',
    [0.5, 0.9, 0.99, 1].map((p) => pct(toRunning, p).toFixed(0)).join(' / '),
  );
  row(
    'placed → starting p50 / p99 (ms)',
    [0.5, 0.99].map((p) => pct(placedToStarting, p).toFixed(0)).join(' / '),
  );
  row(
    'starting → running p50 / p99 (ms)',
    [0.5, 0.99].map((p) => pct(startingToRunning, p).toFixed(0)).join(' / '),
  );
  row(
    'launch request p50 / p99 (ms)',
    [0.5, 0.99].map((p) => pct(launchMs, p).toFixed(1)).join(' / '),
  );
  row(
    'operator reconciles',
    `${reconciles} (${(reconciles / windowS).toFixed(0)}/s over ${windowS.toFixed(1)} s)`,
  );
  row('Floe API requests per session', (floeRequests / admitted.length).toFixed(1));
  row('all API server requests per session', (apiserverRequests / admitted.length).toFixed(1));
  row(
    'peak RSS operators (MiB)',
    operators.map((o) => peakRssMiB(o.proc.child.pid as number).toFixed(0)).join(' / '),
  );
  row(
    `peak RSS control plane${replicaCount > 1 ? ' replicas' : ''} (MiB)`,
    controls.map((c) => peakRssMiB(c.proc.child.pid as number).toFixed(0)).join(' / '),
  );
  row(
    `at ${admitted.length} sessions: session list (50 a page) p50 / p99 (ms), per replica`,
    reads.map((r) => `${pct(r.list, 0.5).toFixed(1)} / ${pct(r.list, 0.99).toFixed(1)}`).join(', '),
  );
  row(
    `at ${admitted.length} sessions: usage p50 / p99 (ms), per replica`,
    reads
      .map((r) => `${pct(r.usage, 0.5).toFixed(1)} / ${pct(r.usage, 0.99).toFixed(1)}`)
      .join(', '),
  );

  /** --reads sequential reads of the list and of usage from each replica, as the console. */
  async function timeReads() {
    const timed = async (url: string) => {
      const t0 = performance.now();
      const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      await res.arrayBuffer();
      if (!res.ok) throw new Error(`${url}: ${res.status}`);
      return performance.now() - t0;
    };
    const out: { list: number[]; usage: number[] }[] = [];
    for (const c of controls) {
      const list: number[] = [];
      const usage: number[] = [];
      for (let i = 0; i < readCount; i++) {
        list.push(await timed(`${c.base}/v1/tenants/bench/sessions?limit=50`));
        usage.push(await timed(`${c.base}/v1/tenants/bench/usage`));
      }
      out.push({ list: list.sort((a, b) => a - b), usage: usage.sort((a, b) => a - b) });
    }
    return out;
  }
  const cpu = new Map<string, number>();
  for (const [k, v] of after.cpu) cpu.set(k, v - (before.cpu.get(k) ?? 0));
  row(
    'CPU seconds during the run',
    [...cpu.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${v.toFixed(1)}`)
      .join(', '),
  );

  async function snapshot(ops: { proc: Proc; metrics: string }[]): Promise<{
    operatorRequests: number;
    controlRequests: number;
    apiserverRequests: number;
    reconciles: number;
    cpu: Map<string, number>;
  }> {
    const opText = await Promise.all(ops.map((o) => scrape(o.metrics)));
    const cpTexts = await Promise.all(controls.map((c) => scrape(`${c.base}/metrics`)));
    let apiserver = 0;
    for (const c of k8s!.clusters) {
      const text = await k8s!.kubectl(c, ['get', '--raw', '/metrics']);
      apiserver += sumMetric(text, 'apiserver_request_total');
    }
    const cpuBy = new Map<string, number>();
    const add = (k: string, pid: number) => {
      try {
        cpuBy.set(k, (cpuBy.get(k) ?? 0) + cpuSeconds(pid));
      } catch {}
    };
    for (const o of ops) add('operators', o.proc.child.pid as number);
    for (const c of controls) add('control plane', c.proc.child.pid as number);
    for (const { component, pid } of clusterPids(workDir)) add(component, pid);
    return {
      operatorRequests: opText.reduce(
        (n, t) => n + sumMetric(t, 'floe_operator_kube_requests_total'),
        0,
      ),
      controlRequests: cpTexts.reduce(
        (n, t) => n + sumMetric(t, 'floe_cluster_kube_requests_total'),
        0,
      ),
      apiserverRequests: apiserver,
      reconciles: opText.reduce((n, t) => n + sumMetric(t, 'floe_operator_reconcile_total'), 0),
      cpu: cpuBy,
    };
  }
}

function cleanup() {
  for (const p of procs) p.child.kill('SIGKILL');
  k8s?.stop();
  postgres?.stop?.();
  if (!args.keep) rmSync(dir, { recursive: true, force: true });
}

main()
  .then(cleanup)
  .catch((err) => {
    console.error(err);
    cleanup();
    process.exitCode = 1;
  });
