// Launch admission benchmark: POST /v1/tenants/{tenant}/sessions over loopback HTTP against
// an in-process control plane, on PGlite and on a durable PostgreSQL server, beside pgbench
// running the same transaction in plain SQL. `node control/bench/launch.ts --help`.
import { fork, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type Postgres, startPostgres } from '@floe/testbed';
import { type SQL, sql } from 'drizzle-orm';
import pg from 'pg';
import { v4 as uuidv4, v7 as uuidv7 } from 'uuid';
import { loadConfig } from '../src/config.ts';
import { listen, startControlPlane } from '../src/control-plane.ts';
import type { ClusterDriver } from '../src/drivers/driver.ts';
import { createLogger } from '../src/log.ts';
import { launchWrites } from '../src/sessions/admission.ts';
import type { Load, Target } from './client.ts';
import { cpuSeconds, postmasterPidOf } from './cpu.ts';

const HELP = `Launch admission benchmark: npm run bench -- [flags]

  --duration S        seconds of measured load per phase "open" and for pgbench (default 10)
  --warmup S          seconds of unmeasured load before it (default 2)
  --concurrency N     connections of the closed-loop HTTP client (default 16)
  --tenants LIST      tenant counts, comma-separated (default 1,1000)
  --db KIND           pglite | postgres | both (default both)
  --pool N            control plane's PostgreSQL pool size = pgbench clients (default 10)
  --tcp               reach PostgreSQL over loopback TCP instead of its Unix socket
  --driver-events     the stand-in driver reports each session starting, then running
  --headroom N        launches each tenant may still add in phase "at quota" (default 1)
  --quota-duration S  seconds of phase "at quota" (default 3)

Each configuration (database, tenant count) gets a fresh database and T tenants, each with
a user, an app with an image, and a tenant-admin API key that the client launches with.
Image apps are placed on a "kubernetes" cluster whose driver (a stand-in) accepts sessions
and reports nothing (see --driver-events), so they stay active and count against quotas;
no process is started.
  open      maxSessions 1,000,000: the quota is checked on every launch but never reached
  pgbench   admission's transaction in SQL on the same database (PostgreSQL only); the
            sessions of the phase before are ended first, so both start from none active
  at quota  every tenant's maxSessions set to its active sessions + headroom
Then active sessions per tenant are counted in the database and compared to maxSessions;
the overshoot must be 0 (exit status 1 otherwise). PostgreSQL runs with fsync on.
cpu ms/launch: CPU time per answered launch of the server process (Node, and PGlite in
it), of PostgreSQL's processes and of the load client (the HTTP client, or pgbench).`;

interface Result {
  rate: number;
  count: number;
  p50: number;
  p99: number;
  status: Record<string, number>;
  cpu: string;
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;

/** Runs a load in a child process, printing its progress every second. */
async function runLoad(label: string, load: Load, postmasterPid?: number): Promise<Result> {
  const before = cpuSeconds(postmasterPid);
  const child = fork(join(import.meta.dirname, 'client.ts'));
  child.send(load);
  let last = 0;
  let result: Omit<Result, 'cpu'> | undefined;
  child.on('message', (m: { progress?: number; result?: Omit<Result, 'cpu'> }) => {
    if (m.progress !== undefined) {
      process.stderr.write(`  ${label}: ${m.progress} requests, ${m.progress - last}/s\n`);
      last = m.progress;
    }
    result ??= m.result;
  });
  const code = await new Promise((resolve) => child.on('exit', resolve));
  if (!result) throw new Error(`the load client exited with ${code}`);
  return { ...result, cpu: cpuPerLaunch(before, cpuSeconds(postmasterPid), result.count) };
}

function cpuPerLaunch(a: ReturnType<typeof cpuSeconds>, b: typeof a, count: number) {
  const ms = (x: number, y: number) => (((y - x) * 1000) / count).toFixed(2);
  return `${ms(a.server, b.server)} ${ms(a.db, b.db)} ${ms(a.client, b.client)}`;
}

/** Stands in for a Kubernetes driver: it accepts every session and leaves it active,
 * observing nothing, or `starting` then `running` (two more transitions) with `report`. */
function holdDriver(report: boolean): ClusterDriver {
  let listener: ((sessionId: string | null) => void) | undefined;
  const states = new Map<string, 'starting' | 'running'>();
  return {
    async launch({ sessionId }) {
      if (!report) return;
      states.set(sessionId, 'starting');
      listener?.(sessionId);
      setImmediate(() => {
        states.set(sessionId, 'running');
        listener?.(sessionId);
      });
    },
    async terminate() {},
    observe({ sessionId }) {
      const state = states.get(sessionId);
      if (!report) return { seen: 'unknown', unreachable: null };
      if (!state) return { seen: 'absent', vanished: 'never launched' };
      return { seen: 'present', state, ending: false, ref: { pod: sessionId } };
    },
    onChange(l) {
      listener = l;
      return () => {};
    },
    present: () => [...states.keys()],
    capacity: async () => ({ gpus: [], maxSessions: null }),
    async close() {},
  };
}

const ADMIN = 'bench-platform-admin-token-0123456789';
/** what Ctrl-C must undo: the PostgreSQL server, temporary folders */
const cleanups = new Set<() => void>();
type Options = Record<'duration' | 'warmup' | 'concurrency' | 'pool' | 'headroom', string> & {
  'quota-duration': string;
  tcp: boolean;
  'driver-events': boolean;
};

async function main() {
  const { values: o } = parseArgs({
    options: {
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '2' },
      concurrency: { type: 'string', default: '16' },
      tenants: { type: 'string', default: '1,1000' },
      db: { type: 'string', default: 'both' },
      pool: { type: 'string', default: '10' },
      tcp: { type: 'boolean', default: false },
      'driver-events': { type: 'boolean', default: false },
      headroom: { type: 'string', default: '1' },
      'quota-duration': { type: 'string', default: '3' },
      help: { type: 'boolean', default: false },
    },
  });
  if (o.help) return console.log(HELP);
  if (!['pglite', 'postgres', 'both'].includes(o.db)) throw new Error(`--db ${o.db}?`);
  const rows = [
    ['db', 'tenants', 'phase', 'launches/s', 'p50 ms', 'p99 ms', 'admitted', 'refused (429)'],
  ];
  rows[0]!.push('other', 'overshoot', 'cpu ms/launch: server db client');
  let overshoot = 0;
  process.once('SIGINT', () => {
    for (const f of cleanups) f();
    process.exit(130);
  });
  for (const kind of o.db === 'both' ? ['postgres', 'pglite'] : [o.db]) {
    const postgres = kind === 'postgres' ? await startPostgres({ durable: true }) : undefined;
    const stop = () => postgres?.stop();
    cleanups.add(stop);
    try {
      for (const tenants of o.tenants.split(',').map(Number)) {
        const out = await configuration(kind, tenants, o, postgres);
        rows.push(...out.rows);
        overshoot += out.overshoot;
      }
    } finally {
      cleanups.delete(stop);
      stop();
    }
  }
  const transport = o.tcp ? 'loopback TCP' : 'Unix socket';
  console.log(`\nconcurrency ${o.concurrency}, pool ${o.pool}, PostgreSQL over ${transport}`);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  for (const r of rows) console.log(r.map((c, i) => c.padStart(widths[i]!)).join('  '));
  if (overshoot > 0) {
    console.error(`QUOTA OVERSHOOT: ${overshoot} sessions beyond maxSessions`);
    process.exitCode = 1;
  }
}

async function configuration(kind: string, tenants: number, o: Options, postgres?: Postgres) {
  const label = `${kind} ${tenants} tenants`;
  const dataDir = mkdtempSync(join(tmpdir(), 'floe-bench-'));
  const removeDataDir = () => rmSync(dataDir, { recursive: true, force: true });
  cleanups.add(removeDataDir);
  let databaseUrl: string | undefined;
  let postmasterPid: number | undefined;
  if (postgres) {
    const name = `bench_${tenants}`;
    const admin = new pg.Client(postgres.url);
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    const url = new URL(postgres.url);
    url.pathname = `/${name}`;
    if (!o.tcp) url.search = `?host=${postgres.dir}`;
    databaseUrl = url.toString();
    postmasterPid = postmasterPidOf(postgres.dir);
  }
  const config = loadConfig({
    FLOE_ADMIN_TOKEN: ADMIN,
    FLOE_DATA_DIR: dataDir,
    FLOE_DB_POOL_SIZE: o.pool,
    FLOE_LOCAL_CLUSTER: 'true',
    ...(databaseUrl && { DATABASE_URL: databaseUrl }),
  });
  const cp = await startControlPlane(config, createLogger('silent'));
  const server = await listen(cp, '127.0.0.1', 0);
  const url = `http://127.0.0.1:${server.port}`;
  const query = async <T>(q: SQL) =>
    ((await cp.database.db.execute(q)) as unknown as { rows: T[] }).rows;
  const call = async (method: string, path: string, body: unknown) => {
    const headers = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
    const res = await fetch(url + path, { method, headers, body: JSON.stringify(body) });
    const json = await res.json();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  const slugs = Array.from({ length: tenants }, (_, i) => `bench-${i + 1}`);
  const eachTenant = async (f: (slug: string) => Promise<void>) => {
    for (let i = 0; i < slugs.length; i += 16) await Promise.all(slugs.slice(i, i + 16).map(f));
  };
  const active = () =>
    query<{ slug: string; n: number; max: number }>(sql`
      select t.slug, t.max_sessions as max, count(s.id)::int as n from tenants t
      left join sessions s on s.tenant_id = t.id and s.state not in ('stopped', 'failed')
      group by t.id`);
  const row = (phase: string, r: Result, overshoot = '') => {
    const { 201: ok = 0, 429: refused = 0, ...rest } = r.status;
    const other = Object.values(rest).reduce((a, b) => a + b, 0);
    const [rate, p50, p99] = [r.rate.toFixed(0), r.p50.toFixed(1), r.p99.toFixed(1)];
    return [kind, String(tenants), phase, rate, p50, p99, String(ok), String(refused)].concat(
      String(other),
      overshoot,
      r.cpu,
    );
  };

  try {
    console.error(`[${label}] seeding`);
    const cluster = await call('POST', '/v1/clusters', {
      name: 'bench',
      region: 'local',
      driver: 'kubernetes',
    });
    cp.supervisor.attach(cluster.id, holdDriver(o['driver-events']));
    const targets: Target[] = [];
    await eachTenant(async (slug) => {
      const email = `user@${slug}.test`;
      await call('POST', '/v1/tenants', { slug, name: slug, quotas: { maxSessions: 1_000_000 } });
      await call('POST', `/v1/tenants/${slug}/users`, { email, role: 'member' });
      await call('POST', `/v1/tenants/${slug}/apps`, { slug: 'desk', name: 'Desk', image: 'desk' });
      const key = { name: 'portal', role: 'tenant-admin' };
      const { token } = await call('POST', `/v1/tenants/${slug}/api-keys`, key);
      const body = JSON.stringify({ app: 'desk', user: email });
      targets.push({ path: `/v1/tenants/${slug}/sessions`, token, body });
    });
    const concurrency = Number(o.concurrency);
    const load = (s: string) => ({ url, targets, concurrency, seconds: Number(s) });
    // Ends the sessions of earlier phases, as if their users had closed them, so that the
    // HTTP and the pgbench measurement both start from no active session.
    const endSessions = async () => {
      await query(
        sql`update sessions set state = 'stopped' where state not in ('stopped', 'failed')`,
      );
      await query(sql`vacuum analyze sessions`);
    };
    await runLoad(`${label}, warm-up`, load(o.warmup));
    await endSessions();
    const open = await runLoad(`${label}, open`, load(o.duration), postmasterPid);
    const total = async () => (await active()).reduce((a, t) => a + t.n, 0);
    let raw: Result | undefined;
    if (postgres && databaseUrl) {
      await endSessions();
      const before = { cpu: cpuSeconds(postmasterPid), active: await total() };
      const vars = { ntenants: String(tenants), cid: cluster.id, ...launchWritesTemplate() };
      const r = pgbench(postgres.bin, databaseUrl, vars, o);
      const admitted = (await total()) - before.active;
      const status = { 201: admitted, 429: r.count - admitted };
      const cpu = cpuPerLaunch(before.cpu, cpuSeconds(postmasterPid), r.count);
      raw = { ...r, status, cpu };
    }
    for (const t of await active()) {
      const quotas = { maxSessions: t.n + Number(o.headroom) };
      await call('PATCH', `/v1/tenants/${t.slug}`, { quotas });
    }
    const atQuota = await runLoad(`${label}, at quota`, load(o['quota-duration']), postmasterPid);
    const overshoot = (await active()).reduce((a, t) => a + Math.max(0, t.n - t.max), 0);
    console.error(`[${label}] overshoot: ${overshoot}`);
    const rows = [row('HTTP open', open), row('HTTP at quota', atQuota, String(overshoot))];
    if (raw) {
      rows.push(row('pgbench raw', raw));
      rows.push([kind, String(tenants), 'HTTP/raw', (open.rate / raw.rate).toFixed(2)]);
    }
    return { rows, overshoot };
  } finally {
    await server.close();
    await cp.close({ terminateSessions: false });
    cleanups.delete(removeDataDir);
    removeDataDir();
  }
}

// What the API passes floe_admit_session beside the session (launchWrites, as the launch
// route builds them): the session.requested and session.placed events, and the audit entry
// with its audit.session.launch event. The tenant ('@T') and the audit entry's id ('@A')
// are filled in per transaction.
function launchWritesTemplate() {
  const tenantId = '00000000-0000-7000-8000-000000000000';
  const session = {
    id: uuidv7(),
    tenantId,
    userId: uuidv7(),
    appId: uuidv7(),
    clusterId: uuidv7(),
    state: 'placed' as const,
    reason: null,
    exitCode: null,
    gpuSku: null,
    gpuCount: 0,
    endpoint: null,
    driverRef: null,
    idempotencyKey: null,
    requestHash: 'x'.repeat(43),
    createdAt: new Date(0),
    updatedAt: new Date(0),
  };
  const writes = launchWrites(session, {
    actor: { type: 'api-key', id: uuidv7(), role: 'tenant-admin', tenantId },
    origin: { requestId: uuidv4(), sourceIp: '127.0.0.1', userAgent: null },
    tenantId,
    action: 'session.launch',
    target: { type: 'session', id: session.id },
    diff: {
      user: { from: null, to: session.userId },
      app: { from: null, to: session.appId },
      cluster: { from: null, to: session.clusterId },
    },
  });
  const auditId = writes.audit!.id;
  const template = (v: unknown) =>
    JSON.stringify(v).replaceAll(tenantId, '@T').replaceAll(auditId, '@A');
  return { events: template(writes.events), audit: template(writes.audit) };
}

// Admission in SQL, as the API runs it: one call of floe_admit_session (lock, idempotency,
// quota counts, insert of the session and its events, its audit entry and the outbox's
// INSERT … SELECT of its three webhook events), here with the ids of a random tenant's user
// and app looked up in the same statement (the API has them cached).
// pgbench variables :events and :audit (launchWritesTemplate) are sent as parameters.
const SCRIPT = `\\set t random(1, :ntenants)
SELECT f.outcome FROM tenants t
  JOIN users u ON u.tenant_id = t.id AND u.deleted_at IS NULL
  JOIN apps a ON a.tenant_id = t.id AND a.deleted_at IS NULL,
  LATERAL (SELECT gen_random_uuid()::text AS id) audit,
  LATERAL floe_admit_session(gen_random_uuid(), t.id, u.id, a.id, :cid, NULL, 0, NULL,
    md5(random()::text), date_trunc('month', now()),
    replace(replace(:events, '@T', t.id::text), '@A', audit.id)::jsonb,
    replace(replace(:audit, '@T', t.id::text), '@A', audit.id)::jsonb) f
  WHERE t.slug = 'bench-' || (:t)::text AND t.deleted_at IS NULL;
`;

/** pgbench with `--pool` clients for `--duration` seconds; latencies from its per-transaction log. */
function pgbench(bin: string, url: string, vars: Record<string, string>, o: Options) {
  const dir = mkdtempSync(join(tmpdir(), 'floe-pgbench-'));
  try {
    writeFileSync(join(dir, 'admit.sql'), SCRIPT);
    console.error(`  pgbench: ${o.pool} clients, ${o.duration} s`);
    const args = ['-n', '-M', 'extended', '-c', o.pool, '-j', '2', '-T', o.duration, '-P', '1'];
    for (const [k, v] of Object.entries(vars)) args.push('-D', `${k}=${v}`);
    args.push('-f', join(dir, 'admit.sql'));
    args.push('-l', `--log-prefix=${join(dir, 'tx')}`, url);
    // spawns: pgbench
    const run = spawnSync(join(bin, 'pgbench'), args, {
      cwd: dir,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const rate = Number(/tps = ([\d.]+) \(without initial/.exec(run.stdout)?.[1]);
    if (run.status !== 0 || !rate) throw new Error(`pgbench failed: ${run.stdout}`);
    // each line: client, transaction, latency in µs, script, epoch seconds, µs
    const latencies = readdirSync(dir)
      .filter((f) => f.startsWith('tx'))
      .flatMap((f) => readFileSync(join(dir, f), 'utf8').trim().split('\n'))
      .map((line) => Number(line.split(' ')[2]) / 1000)
      .sort((a, b) => a - b);
    const [p50, p99] = [pct(latencies, 0.5), pct(latencies, 0.99)];
    return { rate, count: latencies.length, p50, p99 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
