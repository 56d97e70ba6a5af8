// The chaos scenario: several control-plane replicas on one PostgreSQL, two testbed clusters
// with their operators, k6 launching and stopping sessions at a constant rate through all
// replicas while one replica after another is SIGKILLed (and started again) and PostgreSQL
// restarts once. Afterwards it checks what must hold (chaos-checks.ts) and exits 1 if
// anything does not. `node loadtest/chaos.ts --help`.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { sessionCrd } from '@floe/operator/crd';
import {
  ensureK6,
  freePort,
  K6_ENV,
  type KubernetesClusters,
  type Postgres,
  startKubernetesClusters,
  startPostgres,
} from '@floe/testbed';
import pg from 'pg';
import {
  brokenChains,
  type EventFact,
  mismatched,
  peakGpus,
  type ResponseLine,
  type SessionFact,
  serverErrors,
  stuck,
  usageSeconds,
} from './chaos-checks.ts';

const HELP = `Chaos scenario: node loadtest/chaos.ts [flags]
(with Node 24: PATH=$PWD/node_modules/.bin:$PATH)

  --duration S     seconds of load (default 120)
  --rate R         launches per second (default 4); each session is stopped HOLD/2–HOLD s later
  --hold S         longest hold of a session before its stop (default 15)
  --replicas N     control-plane replicas (default 3)
  --kill-every S   SIGKILL one replica (round robin) every S seconds, and start it again (default 20)
  --quota N        the tenant's GPU quota: launches beyond it are refused (default 12)
  --short          the version in npm test: --duration 30 --kill-every 10 --rate 3
  --json           print the result as one JSON object on stdout
  --keep           keep the temporary folder (logs of every process, k6's lines)

PostgreSQL restarts once, at half the duration (down ~2 s). After the load, every session
must end (its stop went through); then the run fails unless: no session is stuck in a
non-terminal state; no Session resource or pod exists without an active session (and no
active session lacks one); every session's events form one chain (no transition lost or
written twice); the session-seconds the API reports equal those recomputed from the events;
the GPUs held never exceeded the quota; every request got an answer within its retries, and
none was refused with a 4xx other than the quota's 429.
5xx responses are counted, and those outside the incidents (±3 s) reported.`;

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '120' },
    rate: { type: 'string', default: '4' },
    hold: { type: 'string', default: '15' },
    replicas: { type: 'string', default: '3' },
    'kill-every': { type: 'string', default: '20' },
    quota: { type: 'string', default: '12' },
    short: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log(HELP);
  process.exit(0);
}
if (args.short) Object.assign(args, { duration: '30', 'kill-every': '10', rate: '3' });
const durationS = Number(args.duration);
const rate = Number(args.rate);
const holdS = Number(args.hold);
const replicaCount = Number(args.replicas);
const killEveryS = Number(args['kill-every']);
const quota = Number(args.quota);
if (![durationS, rate, holdS, replicaCount, killEveryS, quota].every((n) => n > 0)) {
  console.error('every flag takes a positive number\n');
  console.error(HELP);
  process.exit(2);
}

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'floe-chaos-'));
const log = (line: string) => console.error(`[chaos] ${line}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const children: ChildProcess[] = [];
function startNode(name: string, script: string, argv: string[], env: NodeJS.ProcessEnv) {
  const out = openSync(join(dir, `${name}.log`), 'a');
  const child = spawn(process.execPath, [join(root, script), ...argv], {
    env: { ...process.env, ...env },
    stdio: ['ignore', out, out],
  });
  children.push(child);
  return child;
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

let k8s: KubernetesClusters | undefined;
let postgres: Postgres | undefined;

async function main() {
  log(`folder ${dir}`);
  postgres = await startPostgres({ durable: true });
  k8s = await startKubernetesClusters({
    workDir: join(tmpdir(), 'floe-chaos-clusters'),
    clusters: [
      {
        name: 'chaos-eu',
        region: 'eu-west',
        gpuNodes: [{ sku: 'l4', count: 2, gpusPerNode: 8 }],
        cpuNodes: 1,
      },
      {
        name: 'chaos-us',
        region: 'us-east',
        gpuNodes: [{ sku: 'l4', count: 2, gpusPerNode: 8 }],
        cpuNodes: 1,
      },
    ],
    // the operator routes each session with a VirtualService
    istio: true,
    onProgress: log,
  });
  for (const c of k8s.clusters) {
    await k8s.kubectl(c, ['apply', '--server-side', '-f', '-'], JSON.stringify(sessionCrd));
    startNode(`operator-${c.name}`, 'operator/src/main.ts', ['--kubeconfig', c.kubeconfig], {
      LOG_LEVEL: 'warn',
    });
  }

  // ---------------------------------------------------------------- replicas
  const adminToken = randomBytes(24).toString('base64url');
  const shared = {
    DATABASE_URL: postgres.url,
    FLOE_ADMIN_TOKEN: adminToken,
    FLOE_SECRET_KEY: randomBytes(32).toString('base64'),
    FLOE_DB_POOL_SIZE: '10',
    FLOE_SESSION_RESYNC_MS: '1000',
    FLOE_KUBE_RETRY_MAX_MS: '2000',
    LOG_LEVEL: 'info',
  };
  const ports = await Promise.all(Array.from({ length: replicaCount }, () => freePort()));
  const replicas = ports.map((port, n) => ({ port, child: startReplica(n, port) }));
  function startReplica(n: number, port: number) {
    return startNode(`control-${n}`, 'control/src/main.ts', [], {
      ...shared,
      PORT: String(port),
      FLOE_DATA_DIR: join(dir, `control-${n}`),
    });
  }
  const bases = ports.map((p) => `http://127.0.0.1:${p}`);
  const api = async (method: string, path: string, body?: unknown, token = adminToken) => {
    const res = await fetch(`${bases[0]}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  for (const base of bases) {
    await until(`replica ${base}`, 60_000, () =>
      fetch(`${base}/healthz`).then((r) => r.ok || undefined),
    );
  }

  log('registering clusters, tenant, app and users');
  for (const c of k8s.clusters) {
    await api('POST', '/v1/clusters', {
      name: c.name,
      region: c.region,
      driver: 'kubernetes',
      kubeconfig: readFileSync(c.kubeconfig, 'utf8'),
    });
  }
  await api('POST', '/v1/tenants', {
    slug: 'chaos',
    name: 'Chaos',
    quotas: { maxGpus: quota },
  });
  await api('POST', '/v1/tenants/chaos/apps', {
    slug: 'desk',
    name: 'Desk',
    image: 'registry.example/floe/xterm:1',
    resources: { cpu: '1', memory: '1Gi', gpus: { sku: 'l4', count: 1 } },
  });
  const users: string[] = [];
  for (let i = 0; i < 20; i++) {
    const user = await api('POST', '/v1/tenants/chaos/users', {
      email: `user${i}@chaos.test`,
      role: 'member',
    });
    users.push(user.id);
  }
  const { token } = await api('POST', '/v1/tenants/chaos/api-keys', {
    name: 'chaos',
    role: 'tenant-admin',
  });
  await until('both clusters connected', 120_000, async () => {
    const page = await api('GET', '/v1/clusters');
    const k = page.items.filter((c: { driver: string }) => c.driver === 'kubernetes');
    return k.length === 2 && k.every((c: { status?: string }) => c.status === 'connected')
      ? true
      : undefined;
  });

  // ---------------------------------------------------------------- load and faults
  log(`${durationS}s of load at ${rate} launches/s over ${replicaCount} replicas`);
  const k6Log = join(dir, 'k6-lines.jsonl');
  const started = Date.now();
  const k6Done = new Promise<number>((resolve) => {
    // spawns: k6
    const child = spawn(
      ensureK6(log),
      [
        'run',
        '-q',
        '--log-format=raw',
        `--log-output=file=${k6Log}`,
        fileURLToPath(new URL('chaos.k6.js', import.meta.url)),
      ],
      {
        env: {
          ...process.env,
          ...K6_ENV,
          BASES: bases.join(','),
          TOKEN: token,
          TENANT: 'chaos',
          APP: 'desk',
          USERS: users.join(','),
          RATE: String(rate),
          DURATION: String(durationS),
          HOLD_MS: String(holdS * 1000),
        },
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    child.on('exit', (code) => resolve(code ?? 1));
  });
  const incidents: { what: string; atMs: number; untilMs: number }[] = [];
  const faults = (async () => {
    let next = 0;
    const pgAt = started + (durationS * 1000) / 2;
    let pgDone = false;
    for (let t = killEveryS * 1000; t < durationS * 1000; t += killEveryS * 1000) {
      while (Date.now() < started + t) {
        if (!pgDone && Date.now() >= pgAt) {
          pgDone = true;
          await restartPostgres();
        }
        await sleep(100);
      }
      const n = next++ % replicaCount;
      const r = replicas[n] as (typeof replicas)[number];
      const atMs = Date.now();
      r.child.kill('SIGKILL');
      await new Promise((res) => r.child.once('exit', res));
      r.child = startReplica(n, r.port);
      await until(`replica ${n} back`, 60_000, () =>
        fetch(`${bases[n]}/healthz`).then((res) => res.ok || undefined),
      );
      incidents.push({ what: `replica ${n} killed`, atMs, untilMs: Date.now() });
      log(`killed replica ${n}; back after ${Date.now() - atMs} ms`);
    }
    if (!pgDone) {
      while (Date.now() < pgAt) await sleep(100);
      await restartPostgres();
    }
  })();
  async function restartPostgres() {
    const atMs = Date.now();
    postgres?.pause();
    await sleep(2_000);
    postgres?.resume();
    incidents.push({ what: 'PostgreSQL restarted', atMs, untilMs: Date.now() });
    log(`PostgreSQL restarted (${Date.now() - atMs} ms down)`);
  }
  const k6Code = await k6Done;
  await faults;
  log(`k6 exited ${k6Code}; waiting for every session to end`);

  // ---------------------------------------------------------------- checks
  const db = new pg.Client({ connectionString: postgres.url });
  await db.connect();
  const read = async () => {
    const sessions = (
      await db.query('select id, state, gpu_count from sessions order by id')
    ).rows.map((r): SessionFact => ({ id: r.id, state: r.state, gpuCount: r.gpu_count }));
    return sessions;
  };
  const settleStarted = Date.now();
  await until('every session ended', 120_000, async () =>
    stuck(await read()).length === 0 ? true : undefined,
  ).catch((err) => log(String(err)));
  const settleMs = Date.now() - settleStarted;
  const sessions = await read();
  const events = (
    await db.query(
      `select id, session_id, from_state, to_state, extract(epoch from at) * 1000 as at_ms
         from session_events order by id`,
    )
  ).rows.map(
    (r): EventFact => ({
      seq: Number(r.id),
      sessionId: r.session_id,
      from: r.from_state,
      to: r.to_state,
      atMs: Number(r.at_ms),
    }),
  );
  await db.end();

  // what the clusters still run (Session resources and their pods), once the operators and
  // the drivers have had a moment after the last stop
  await sleep(3_000);
  const resources = new Set<string>();
  for (const c of k8s.clusters) {
    const s = JSON.parse(await k8s.kubectl(c, ['get', 'sessions', '-A', '-o', 'json']));
    for (const item of s.items) resources.add(item.metadata.name);
    const pods = JSON.parse(
      await k8s.kubectl(c, ['get', 'pods', '-A', '-l', 'floe.dev/session', '-o', 'json']),
    );
    for (const item of pods.items) resources.add(item.metadata.labels['floe.dev/session']);
  }
  const active = new Set(stuck(sessions));

  const from = new Date(started - 60_000).toISOString();
  const to = new Date().toISOString();
  const usage = await api(
    'GET',
    `/v1/tenants/chaos/usage?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`,
  );
  const recomputed = usageSeconds(events, Date.parse(from), Date.parse(to));
  const lines = readFileSync(k6Log, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as ResponseLine);
  const errors = serverErrors(lines, incidents, 3_000, started);
  const m = mismatched(active, resources);
  const result = {
    replicas: replicaCount,
    durationS,
    rate,
    incidents: incidents.map((x) => `${x.what} at ${x.atMs - started}–${x.untilMs - started} ms`),
    launches: lines.filter((l) => l.kind === 'launch' && l.status === 201).length,
    refusedByQuota: lines.filter((l) => l.kind === 'launch' && l.status === 429).length,
    // a replica that cannot place what another can (it does not know a cluster), say
    refusedOtherwise: lines.filter(
      (l) => l.status >= 400 && l.status < 500 && !(l.kind === 'launch' && l.status === 429),
    ).length,
    stops: lines.filter((l) => l.kind === 'stop' && l.status < 300 && l.status > 0).length,
    sessions: sessions.length,
    settleMs,
    stuck: stuck(sessions).length,
    failed: sessions.filter((s) => s.state === 'failed').length,
    resourcesWithoutSession: m.withoutSession.length,
    sessionsWithoutResource: m.withoutResource.length,
    brokenEventChains: brokenChains(sessions, events).length,
    usageSecondsApi: Number(usage.totals.sessionSeconds.toFixed(3)),
    usageSecondsRecomputed: Number(recomputed.toFixed(3)),
    quota,
    peakGpus: peakGpus(sessions, events),
    serverErrors: errors.total,
    serverErrorsOutsideIncidents: errors.outsideIncidents,
    unanswered: errors.unanswered,
    k6Exit: k6Code,
  };
  const failures = [
    result.stuck > 0 && `${result.stuck} sessions stuck`,
    result.resourcesWithoutSession > 0 &&
      `${result.resourcesWithoutSession} Session resources or pods without an active session`,
    result.sessionsWithoutResource > 0 &&
      `${result.sessionsWithoutResource} active sessions without a resource`,
    result.brokenEventChains > 0 && `${result.brokenEventChains} sessions with broken events`,
    Math.abs(result.usageSecondsApi - result.usageSecondsRecomputed) > 0.01 &&
      `usage: API ${result.usageSecondsApi} s, events ${result.usageSecondsRecomputed} s`,
    result.peakGpus > quota && `quota overshoot: ${result.peakGpus} GPUs held of ${quota}`,
    result.unanswered.length > 0 &&
      `${result.unanswered.length} requests never answered (${result.unanswered.join('; ')}; incidents: ${result.incidents.join(', ')})`,
    result.launches === 0 && 'no launch was admitted',
    result.refusedOtherwise > 0 && `${result.refusedOtherwise} requests refused with another 4xx`,
    result.usageSecondsRecomputed === 0 && 'no session ever ran (hold them longer)',
    k6Code !== 0 && `k6 exited ${k6Code}`,
  ].filter((f): f is string => typeof f === 'string');
  if (args.json) console.log(JSON.stringify({ ...result, failures }));
  else {
    console.log(`\n## Chaos: ${replicaCount} replicas, ${durationS}s at ${rate} launches/s\n`);
    console.log('| measure | value |\n| --- | --- |');
    for (const [k, v] of Object.entries(result)) console.log(`| ${k} | ${v} |`);
    console.log(failures.length ? `\nFAILED: ${failures.join('; ')}` : '\nall checks hold');
  }
  return failures.length === 0;
}

function cleanup() {
  for (const child of children) child.kill('SIGKILL');
  k8s?.stop();
  postgres?.stop();
  if (!args.keep) rmSync(dir, { recursive: true, force: true });
}

main()
  .then((ok) => {
    cleanup();
    process.exitCode = ok ? 0 : 1;
  })
  .catch((err) => {
    console.error(err);
    cleanup();
    process.exitCode = 1;
  });
