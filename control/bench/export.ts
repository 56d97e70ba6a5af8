// Export benchmark: N usage records of one closed period, downloaded as CSV and Parquet
// through GET /v1/tenants/{tenant}/billing/export (streamed, over loopback HTTP) from a
// control plane in its own process, beside PostgreSQL's own COPY ... TO STDOUT of the same
// rows and columns in the same run. `node control/bench/export.ts --help`.
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import { startPostgres } from '@floe/testbed';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { openDatabase } from '../src/db/connect.ts';

const HELP = `Export benchmark: node control/bench/export.ts [flags]

  --records N     usage records in the period (default 1000000)
  --db KIND       postgres | pglite | both (default postgres)
  --formats LIST  csv,parquet,jsonl (default csv,parquet)
  --database-url URL  PostgreSQL database to use instead of a fresh server: migrated and
                  seeded on first use, reused as it is when it already holds the bench
                  tenant (for iterating: seeding 10,000,000 records takes minutes)

For each database: a fresh one with one tenant, one closed period of N usage records (made
in SQL), a control plane in a child process (with the Node flags of the control image's
entrypoint, as npm start has them), then for each format COPY (the same 25 columns, same
order) TO STDOUT as CSV and right after it one full download of the period's export (the
client reads the stream as it comes and counts bytes). On PGlite, which the server holds
once started, its one COPY (to a blob) is the peer of every format. Reported: rows/s, MB/s,
the ratio export / COPY, the server's peak RSS (VmHWM, reset before each download) and the
CPU seconds the server spent on the download (steadier than wall time on a busy machine).`;

const ADMIN = 'bench-admin-token-0123456789abcdef';
const TENANT = '01900000-0000-7000-8000-000000000001';
const PERIOD = '01900000-0000-7000-8000-000000000002';

const { values: o } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000' },
    db: { type: 'string', default: 'postgres' },
    formats: { type: 'string', default: 'csv,parquet' },
    'database-url': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (o.help) {
  console.log(HELP);
  process.exit(0);
}
const N = Number(o.records);

/** The tenant, a user, an app, a period of N records, closed: one SQL script for both databases. */
const seedSql = (n: number) => `
insert into tenants (id, slug, name) values ('${TENANT}', 'bench', 'Bench');
insert into users (id, tenant_id, email, role)
  values ('01900000-0000-7000-8000-000000000003', '${TENANT}', 'user@bench.test', 'member');
insert into apps (id, tenant_id, slug, name, cpu, memory)
  values ('01900000-0000-7000-8000-000000000004', '${TENANT}', 'blender', 'Blender', '1', '2Gi');
insert into billing_periods (id, tenant_id, label, starts_at, ends_at, time_zone)
  values ('${PERIOD}', '${TENANT}', '2026-10', '2026-10-01T00:00:00Z', '2026-11-01T00:00:00Z', 'UTC');
insert into usage_records (period_id, tenant_id, kind, session_id, user_id, user_email, app_id,
    app_slug, app_class, cluster_id, cluster_name, region, gpu_sku, gpu_count, slice_start, slice_end,
    session_seconds, gpu_seconds, currency, amount)
  select '${PERIOD}', '${TENANT}', 'usage',
    md5(i::text)::uuid, md5('u' || (i % 500))::uuid, 'user' || (i % 500) || '@bench.test',
    md5('a' || (i % 20))::uuid, 'app-' || (i % 20),
    case when i % 20 < 5 then null else 'class-' || (i % 3) end,
    '01900000-0000-7000-8000-000000000005', 'gpu-eu-1', 'eu-west',
    case when i % 3 = 0 then null else 'nvidia-l4' end, case when i % 3 = 0 then 0 else 2 end,
    timestamptz '2026-10-01' + (i % 2592000) * interval '1 second',
    timestamptz '2026-10-01' + (i % 2592000 + 3600 + i % 777) * interval '1 second',
    (3600 + i % 777)::numeric(18,3), (case when i % 3 = 0 then 0 else 2 * (3600 + i % 777) end)::numeric(18,3),
    'EUR', ((3600 + i % 777) * 0.000139)::numeric(18,6)
  from generate_series(1, ${n}) i;
update billing_periods set state = 'closed', closed_at = '2026-11-02T00:00:00Z',
  totals = '{"records": ${n}}'::jsonb where id = '${PERIOD}';
`;

// the export's 25 columns, in SQL, for COPY
const COPY_QUERY = `select r.id, r.kind, r.tenant_id, t.slug, p.label, p.starts_at, p.ends_at,
  null as adjusts_period, r.session_id, r.user_id, r.user_email, r.app_id, r.app_slug,
  r.app_class, r.cluster_id, r.cluster_name, r.region, r.gpu_sku, r.gpu_count, r.slice_start, r.slice_end,
  r.session_seconds, r.gpu_seconds, r.currency, r.amount
  from usage_records r join billing_periods p on p.id = r.period_id join tenants t on t.id = r.tenant_id
  where r.period_id = '${PERIOD}' order by r.id`;

const mb = (bytes: number) => bytes / 1e6;

/** The Node flags the control plane runs with (its image's entrypoint; npm start has the same). */
const CONTROL_NODE_FLAGS: string[] = JSON.parse(
  readFileSync(join(import.meta.dirname, '../../deploy/images/recipes/control.json'), 'utf8'),
).entrypoint.slice(1, -1);

function peakRss(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? mb(Number(m[1]) * 1024) : Number.NaN; // MB (10^6 bytes), the unit
}

function currentRss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? mb(Number(m[1]) * 1024) : Number.NaN;
}

/** CPU seconds (user + system) the process has used: less sensitive than wall time to a busy machine. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

/** Resets the process's peak RSS (Linux: writing 5 to clear_refs). */
const resetPeak = (pid: number) => writeFileSync(`/proc/${pid}/clear_refs`, '5');

async function startServer(
  env: Record<string, string>,
): Promise<{ child: ChildProcess; url: string }> {
  const child = fork(join(import.meta.dirname, 'export-server.ts'), {
    execArgv: [
      ...CONTROL_NODE_FLAGS,
      ...(process.env.BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF}`] : []),
    ],
    env: { ...process.env, FLOE_ADMIN_TOKEN: ADMIN, ...env },
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
  return { child, url: `http://127.0.0.1:${port}` };
}

async function download(url: string, format: string) {
  const started = performance.now();
  const res = await fetch(
    `${url}/v1/tenants/bench/billing/export?period=2026-10&format=${format}`,
    {
      headers: { authorization: `Bearer ${ADMIN}` },
    },
  );
  if (res.status !== 200) throw new Error(`${format}: ${res.status} ${await res.text()}`);
  let bytes = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) bytes += chunk.length;
  return { seconds: (performance.now() - started) / 1000, bytes };
}

type Row = string[];
const rows: Row[] = [
  [
    'database',
    'what',
    'records',
    'seconds',
    'rows/s',
    'MB/s',
    'MB',
    '× COPY',
    'server peak RSS MB',
    'server CPU s',
  ],
];

interface Timed {
  seconds: number;
  bytes: number;
}

/**
 * Each format's download right after a COPY of the same rows (on PostgreSQL a new one each
 * time, so that both see the same load on this shared machine); the ratio is to that COPY.
 */
async function measure(
  kind: string,
  url: string,
  child: ChildProcess,
  copyPeer: () => Promise<Timed>,
) {
  for (const format of (o.formats as string).split(',')) {
    const copy = await copyPeer();
    rows.push([
      kind,
      kind === 'pglite' ? "COPY TO '/dev/blob' (csv)" : 'COPY TO STDOUT (csv)',
      String(N),
      copy.seconds.toFixed(2),
      Math.round(N / copy.seconds).toString(),
      (mb(copy.bytes) / copy.seconds).toFixed(1),
      mb(copy.bytes).toFixed(0),
      '1.00',
      '',
      '',
    ]);
    const before = currentRss(child.pid as number);
    resetPeak(child.pid as number);
    const cpu = cpuSeconds(child.pid as number);
    const r = await download(url, format);
    rows.push([
      kind,
      `export ${format}`,
      String(N),
      r.seconds.toFixed(2),
      Math.round(N / r.seconds).toString(),
      (mb(r.bytes) / r.seconds).toFixed(1),
      mb(r.bytes).toFixed(0),
      (copy.seconds / r.seconds).toFixed(2),
      peakRss(child.pid as number).toFixed(0),
      (cpuSeconds(child.pid as number) - cpu).toFixed(1),
    ]);
    console.error(
      `${kind} ${format}: ${r.seconds.toFixed(1)} s (server RSS before: ${before.toFixed(0)} MB, ` +
        `load average ${loadavg()[0]?.toFixed(1)})`,
    );
  }
}

/** A PostgreSQL database of N records: the one given (seeded unless it is already), or a new one. */
async function postgresDatabase(): Promise<{ databaseUrl: string; stop: () => void }> {
  let databaseUrl = o['database-url'];
  let stop = () => {};
  if (!databaseUrl) {
    const postgres = await startPostgres({ durable: true });
    stop = () => postgres.stop();
    const admin = new pg.Client(postgres.url);
    await admin.connect();
    await admin.query('create database bench_export');
    await admin.end();
    const url = new URL(postgres.url);
    url.pathname = '/bench_export';
    databaseUrl = url.toString();
  }
  // migrate, then seed
  const database = await openDatabase({ databaseUrl, dataDir: 'memory://', poolSize: 1 });
  await database.close();
  const client = new pg.Client(databaseUrl);
  await client.connect();
  const seeded = await client.query<{ n: string }>(
    `select count(*) as n from usage_records where period_id = '${PERIOD}'`,
  );
  const have = Number(seeded.rows[0]?.n);
  if (have === 0) {
    const t = performance.now();
    await client.query(seedSql(N));
    await client.query('vacuum analyze usage_records');
    console.error(
      `postgres: seeded ${N} records in ${((performance.now() - t) / 1000).toFixed(1)} s`,
    );
  } else if (have !== N) {
    throw new Error(`${databaseUrl} holds ${have} bench records, not ${N}`);
  }
  await client.end();
  return { databaseUrl, stop };
}

/** COPY (the export's columns) TO STDOUT as CSV, read as it comes. */
async function copyOut(databaseUrl: string): Promise<Timed> {
  const client = new pg.Client(databaseUrl);
  await client.connect();
  try {
    const t = performance.now();
    let bytes = 0;
    const stream = client.query(copyTo(`copy (${COPY_QUERY}) to stdout with (format csv, header)`));
    for await (const chunk of stream) bytes += (chunk as Buffer).length;
    return { seconds: (performance.now() - t) / 1000, bytes };
  } finally {
    await client.end();
  }
}

async function onPostgres() {
  const { databaseUrl, stop } = await postgresDatabase();
  try {
    const { child, url: api } = await startServer({
      DATABASE_URL: databaseUrl,
      FLOE_DATA_DIR: mkdtempSync(join(tmpdir(), 'floe-bench-')),
    });
    console.error(`postgres: server idle RSS ${currentRss(child.pid as number).toFixed(0)} MB`);
    try {
      await measure('postgres', api, child, () => copyOut(databaseUrl));
    } finally {
      child.send('stop');
    }
  } finally {
    stop();
  }
}

async function onPglite() {
  const dataDir = mkdtempSync(join(tmpdir(), 'floe-bench-pglite-'));
  const pgdata = join(dataDir, 'pgdata'); // where the control plane keeps PGlite's files
  try {
    const database = await openDatabase({ dataDir: pgdata });
    await database.close();
    const db = await PGlite.create(pgdata);
    let t = performance.now();
    await db.exec(seedSql(N));
    console.error(
      `pglite: seeded ${N} records in ${((performance.now() - t) / 1000).toFixed(1)} s`,
    );
    // PGlite's COPY writes to a blob in memory: its peer of COPY TO STDOUT
    t = performance.now();
    const result = await db.query(`copy (${COPY_QUERY}) to '/dev/blob' with (format csv, header)`);
    const copy = { seconds: (performance.now() - t) / 1000, bytes: result.blob?.size ?? 0 };
    await db.close();
    const { child, url } = await startServer({ FLOE_DATA_DIR: dataDir });
    console.error(`pglite: server idle RSS ${currentRss(child.pid as number).toFixed(0)} MB`);
    try {
      // the server holds the database now: its one COPY is the peer of every format
      await measure('pglite', url, child, async () => copy);
    } finally {
      child.send('stop');
      await new Promise((r) => child.once('exit', r));
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (o.db === 'postgres' || o.db === 'both') await onPostgres();
if (o.db === 'pglite' || o.db === 'both') await onPglite();
const widths = (rows[0] as Row).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
for (const r of rows) console.log(r.map((c, i) => c.padStart(widths[i] as number)).join('  '));
