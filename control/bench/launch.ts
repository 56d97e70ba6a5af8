// Launch admission benchmark: POST /v1/tenants/{tenant}/sessions over loopback HTTP against
// an in-process control plane, on PGlite and on a durable PostgreSQL server, beside pgbench
// running the same transaction in plain SQL. `node control/bench/launch.ts --help`.
import { fork, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type Postgres, startPostgres } from '@floe/testbed';
import { type SQL, sql } from 'drizzle-orm';
import pg from 'pg';
import { loadConfig } from '../src/config.ts';
import { listen, startControlPlane } from '../src/control-plane.ts';
import type { ClusterDriver } from '../src/drivers/driver.ts';
import { createLogger } from '../src/log.ts';

const HELP = `Launch admission benchmark (npm run bench -- [flags])

  --duration S        seconds of measured load per configuration (default 10)
  --warmup S          seconds of unmeasured load before it (default 2)
  --concurrency N     HTTP connections of the closed-loop client (default 32)
  --tenants LIST      tenant counts, comma-separated (default 1,1000)
  --db KIND           pglite | postgres | both (default both)
  --pool N            control plane's PostgreSQL pool = pgbench clients (default 20)
  --headroom N        launches each tenant may add in the at-quota phase (default 2)
  --quota-duration S  seconds of the at-quota phase (default 3)
  --help

Per configuration: a fresh database; T tenants, each with a user, an image app placed on a
cluster whose driver accepts sessions and leaves them active, and a tenant-admin API key;
phase "open" (maxSessions 1,000,000, checked but never reached), pgbench on the same
database (PostgreSQL only), then phase "at quota" (maxSessions = active + headroom, so most
launches are refused). At the end, active sessions per tenant are compared to maxSessions.`;

interface Target {
  path: string;
  token: string;
  body: string;
}
interface Load {
  url: string;
  targets: Target[];
  concurrency: number;
  seconds: number;
}
interface Result {
  rate: number;
  p50: number;
  p99: number;
  status: Record<string, number>;
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;

// The load generator runs in a child process so that it does not share an event loop with
// the server; it keeps `concurrency` requests in flight on keep-alive connections.
async function client(load: Load): Promise<Result> {
  const agent = new Agent({ keepAlive: true, maxSockets: load.concurrency });
  const post = (t: Target) =>
    new Promise<number>((resolve, reject) => {
      const headers = { authorization: `Bearer ${t.token}`, 'content-type': 'application/json' };
      const req = request(load.url + t.path, { method: 'POST', agent, headers }, (res) => {
        res.resume().on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject).end(t.body);
    });
  const latencies: number[] = [];
  const status: Record<string, number> = {};
  const start = performance.now();
  const end = start + load.seconds * 1000;
  const tick = setInterval(() => process.send?.({ progress: latencies.length }), 1000);
  await Promise.all(
    Array.from({ length: load.concurrency }, async () => {
      while (performance.now() < end) {
        const t = load.targets[Math.floor(Math.random() * load.targets.length)] as Target;
        const t0 = performance.now();
        const code = await post(t);
        latencies.push(performance.now() - t0);
        status[code] = (status[code] ?? 0) + 1;
      }
    }),
  );
  clearInterval(tick);
  agent.destroy();
  const sorted = latencies.sort((a, b) => a - b);
  const rate = latencies.length / ((performance.now() - start) / 1000);
  return { rate, p50: pct(sorted, 0.5), p99: pct(sorted, 0.99), status };
}

if (process.env.FLOE_BENCH_CLIENT) {
  process.once('message', async (load) => {
    process.send?.({ result: await client(load as Load) }, () => process.exit(0));
  });
} else {
  await main();
}

function runLoad(label: string, load: Load): Promise<Result> {
  const child = fork(import.meta.filename, [], {
    env: { ...process.env, FLOE_BENCH_CLIENT: '1' },
  });
  child.send(load);
  let last = 0;
  return new Promise((resolve, reject) => {
    child.on('message', (m: { progress?: number; result?: Result }) => {
      if (m.progress !== undefined) {
        process.stderr.write(`  ${label}: ${m.progress} requests, ${m.progress - last}/s\n`);
        last = m.progress;
      }
      if (m.result) resolve(m.result);
    });
    child.on('exit', (code) => code && reject(new Error(`load client exited with ${code}`)));
  });
}

// Stands in for a Kubernetes driver: it accepts every session and reports nothing, so
// sessions stay `placed` (active, held against quotas) and no process is started.
const holdDriver: ClusterDriver = {
  async launch() {},
  async terminate() {},
  async adopt() {},
  watch: () => () => {},
  capacity: async () => ({ gpus: [], maxSessions: null }),
  async close() {},
};

const ADMIN = 'bench-platform-admin-token-0123456789';
const OPEN_QUOTA = 1_000_000;

async function main() {
  const { values: o } = parseArgs({
    options: {
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '2' },
      concurrency: { type: 'string', default: '32' },
      tenants: { type: 'string', default: '1,1000' },
      db: { type: 'string', default: 'both' },
      pool: { type: 'string', default: '20' },
      headroom: { type: 'string', default: '2' },
      'quota-duration': { type: 'string', default: '3' },
      help: { type: 'boolean', default: false },
    },
  });
  if (o.help) return console.log(HELP);
  if (!['pglite', 'postgres', 'both'].includes(o.db)) throw new Error(`--db: ${o.db}?`);
  const kinds = o.db === 'both' ? ['postgres', 'pglite'] : [o.db];
  const tenantCounts = o.tenants.split(',').map(Number);
  const rows: string[][] = [];
  let postgres: Postgres | undefined;
  let failed = false;
  try {
    for (const kind of kinds) {
      if (kind === 'postgres') {
        postgres = await startPostgres({ durable: true });
        console.error(`PostgreSQL (fsync on) at ${postgres.url}`);
      }
      for (const tenants of tenantCounts) {
        const out = await configuration(kind, tenants, o, postgres);
        rows.push(...out.rows);
        failed ||= out.overshoot > 0;
      }
      postgres?.stop();
      postgres = undefined;
    }
  } finally {
    postgres?.stop();
  }
  const head = ['db', 'tenants', 'phase', 'launches/s', 'p50 ms', 'p99 ms'];
  const table = [[...head, 'admitted', 'refused (429)', 'other', 'overshoot'], ...rows];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length)));
  console.log(`\nconcurrency ${o.concurrency}, ${o.duration} s per phase "open", pool ${o.pool}`);
  for (const r of table) console.log(r.map((c, i) => c.padStart(widths[i]!)).join('  '));
  if (failed) {
    console.error('QUOTA OVERSHOOT: some tenant holds more active sessions than maxSessions');
    process.exitCode = 1;
  }
}

type Options = Record<'duration' | 'warmup' | 'concurrency' | 'pool' | 'headroom', string> & {
  'quota-duration': string;
};

async function configuration(kind: string, tenants: number, o: Options, postgres?: Postgres) {
  const label = `${kind} ${tenants}t`;
  const dataDir = mkdtempSync(join(tmpdir(), 'floe-bench-'));
  let databaseUrl: string | undefined;
  if (postgres) {
    const name = `bench_${tenants}`;
    const admin = new pg.Client(postgres.url);
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    databaseUrl = postgres.url.replace(/\/postgres$/, `/${name}`);
  }
  const config = loadConfig({
    FLOE_ADMIN_TOKEN: ADMIN,
    FLOE_DATA_DIR: dataDir,
    FLOE_DB_POOL_SIZE: o.pool,
    ...(databaseUrl && { DATABASE_URL: databaseUrl }),
  });
  const cp = await startControlPlane(config, createLogger('silent'));
  const server = await listen(cp, '127.0.0.1', 0);
  const url = `http://127.0.0.1:${server.port}`;
  const query = async <T>(q: SQL) =>
    ((await cp.database.db.execute(q)) as unknown as { rows: T[] }).rows;
  const call = async (method: string, path: string, body: unknown) => {
    const res = await fetch(url + path, {
      method,
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = await res.json();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  const eachTenant = async (f: (slug: string) => Promise<void>) => {
    for (let i = 1; i <= tenants; i += 16) {
      const batch = Array.from({ length: Math.min(16, tenants - i + 1) }, (_, k) => i + k);
      await Promise.all(batch.map((n) => f(`bench-${n}`)));
    }
  };

  try {
    console.error(`[${label}] seeding ${tenants} tenants`);
    const cluster = await call('POST', '/v1/clusters', {
      name: 'bench',
      region: 'local',
      driver: 'kubernetes',
    });
    cp.supervisor.attach(cluster.id, holdDriver);
    const targets: Target[] = [];
    await eachTenant(async (slug) => {
      await call('POST', '/v1/tenants', { slug, name: slug, quotas: { maxSessions: OPEN_QUOTA } });
      const email = `user@${slug}.test`;
      await call('POST', `/v1/tenants/${slug}/users`, { email, role: 'member' });
      await call('POST', `/v1/tenants/${slug}/apps`, { slug: 'desk', name: 'Desk', image: 'desk' });
      const key = await call('POST', `/v1/tenants/${slug}/api-keys`, {
        name: 'portal',
        role: 'tenant-admin',
      });
      const body = JSON.stringify({ app: 'desk', user: email });
      targets.push({ path: `/v1/tenants/${slug}/sessions`, token: key.token, body });
    });
    const load = (seconds: string) => ({
      url,
      targets,
      concurrency: Number(o.concurrency),
      seconds: Number(seconds),
    });
    const active = () =>
      query<{ slug: string; n: number; max: number }>(sql`
        select t.slug, t.max_sessions as max, count(s.id)::int as n from tenants t
        left join sessions s on s.tenant_id = t.id and s.state not in ('stopped', 'failed')
        group by t.id`);
    const row = (phase: string, r: Result, overshoot = '') => {
      const { 201: ok = 0, 429: refused = 0, ...rest } = r.status;
      const other = Object.values(rest).reduce((a, b) => a + b, 0);
      const ms = (x: number) => x.toFixed(1);
      return [kind, String(tenants), phase, r.rate.toFixed(0), ms(r.p50), ms(r.p99)].concat([
        String(ok),
        String(refused),
        String(other),
        overshoot,
      ]);
    };

    await runLoad(`${label} warm-up`, load(o.warmup));
    const open = await runLoad(`${label} open`, load(o.duration));
    const activeTotal = async () => (await active()).reduce((a, t) => a + t.n, 0);
    const raw =
      postgres && databaseUrl
        ? await pgbench(postgres.bin, databaseUrl, tenants, cluster.id, o, activeTotal)
        : null;

    await eachTenant(async (slug) => {
      const [t] = await query<{ n: number }>(sql`select count(*)::int as n from sessions s
        join tenants t on t.id = s.tenant_id where t.slug = ${slug}
        and s.state not in ('stopped', 'failed')`);
      const maxSessions = (t?.n ?? 0) + Number(o.headroom);
      await call('PATCH', `/v1/tenants/${slug}`, { quotas: { maxSessions } });
    });
    const atQuota = await runLoad(`${label} at quota`, load(o['quota-duration']));
    const overshoot = (await active()).reduce((a, t) => a + Math.max(0, t.n - t.max), 0);
    console.error(`[${label}] overshoot ${overshoot}`);
    const rows = [row('HTTP open', open, String(overshoot)), row('HTTP at quota', atQuota, '')];
    if (raw) {
      const [tps, p50, p99] = [raw.tps.toFixed(0), raw.p50.toFixed(1), raw.p99.toFixed(1)];
      const refused = String(raw.count - raw.admitted);
      rows.push([kind, String(tenants), 'pgbench raw', tps, p50, p99, String(raw.admitted)]);
      rows[rows.length - 1]!.push(refused, '', '');
      rows.push([kind, String(tenants), 'HTTP/raw', (open.rate / raw.tps).toFixed(2)]);
    }
    return { rows, overshoot };
  } finally {
    await server.close();
    await cp.close({ terminateSessions: false });
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// Admission's transaction in plain SQL (extended protocol, like node-postgres), preceded
// by one lookup of the tenant, user and app ids, which the API does in three queries.
const SCRIPT = `\\set t random(1, :ntenants)
SELECT t.id AS tid, u.id AS uid, a.id AS aid FROM tenants t
  JOIN users u ON u.tenant_id = t.id AND u.deleted_at IS NULL
  JOIN apps a ON a.tenant_id = t.id AND a.deleted_at IS NULL
  WHERE t.slug = 'bench-' || (:t)::text AND t.deleted_at IS NULL \\gset
BEGIN;
SELECT coalesce(max_sessions, 2147483647) AS maxs, max_gpus, gpu_hours_per_month,
  allowed_regions, deleted_at FROM tenants WHERE id = :tid FOR UPDATE \\gset
SELECT count(*)::int AS n, coalesce(sum(gpu_count), 0)::int AS g,
  (count(*) FILTER (WHERE user_id = :uid))::int AS un,
  coalesce(sum(gpu_count) FILTER (WHERE user_id = :uid), 0)::int AS ug
  FROM sessions WHERE tenant_id = :tid AND state NOT IN ('stopped', 'failed') \\gset
\\if :n < :maxs
SELECT * FROM clusters WHERE deleted_at IS NULL;
INSERT INTO sessions (id, tenant_id, user_id, app_id, cluster_id, state, gpu_count, request_hash)
  VALUES (gen_random_uuid(), :tid, :uid, :aid, :cid, 'placed', 0, md5(random()::text))
  RETURNING id AS sid \\gset
INSERT INTO session_events (session_id, tenant_id, from_state, to_state)
  VALUES (:sid, :tid, NULL, 'requested'), (:sid, :tid, 'requested', 'placed');
\\endif
COMMIT;
`;

async function pgbench(
  bin: string,
  url: string,
  tenants: number,
  clusterId: string,
  o: Options,
  activeTotal: () => Promise<number>,
) {
  const dir = mkdtempSync(join(tmpdir(), 'floe-pgbench-'));
  try {
    writeFileSync(join(dir, 'admit.sql'), SCRIPT);
    const before = await activeTotal();
    console.error(`  pgbench: ${o.pool} clients, ${o.duration} s`);
    const args = ['-n', '-M', 'extended', '-c', o.pool, '-j', '2', '-T', o.duration, '-P', '1'];
    args.push('-D', `ntenants=${tenants}`, '-D', `cid=${clusterId}`, '-f', join(dir, 'admit.sql'));
    args.push('-l', `--log-prefix=${join(dir, 'tx')}`, url);
    const run = spawnSync(join(bin, 'pgbench'), args, {
      cwd: dir,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const tps = Number(/tps = ([\d.]+) \(without initial/.exec(run.stdout)?.[1]);
    if (run.status !== 0 || !tps) throw new Error(`pgbench failed: ${run.stdout}`);
    // per-transaction log lines: client transaction latency-in-µs script epoch µs
    const latencies = readdirSync(dir)
      .filter((f) => f.startsWith('tx'))
      .flatMap((f) => readFileSync(join(dir, f), 'utf8').trim().split('\n'))
      .map((line) => Number(line.split(' ')[2]) / 1000)
      .sort((a, b) => a - b);
    const admitted = (await activeTotal()) - before;
    const [p50, p99] = [pct(latencies, 0.5), pct(latencies, 0.99)];
    return { tps, p50, p99, count: latencies.length, admitted };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
