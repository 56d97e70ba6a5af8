// Webhook delivery benchmark: session transitions at a target rate (1,000/s by default)
// through transition() (what the drivers' reports go through), each queued in the outbox in
// its transaction and delivered by the control plane's worker to a receiver in another
// process that verifies every signature. Beside it, in the same run: the same transitions
// with no endpoint (the outbox's cost), and plain signed POSTs to the same receiver (the
// HTTP ceiling of the sender). `node control/bench/webhooks.ts --help`.
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type Postgres, startPostgres } from '@floe/testbed';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { v7 as uuidv7 } from 'uuid';
import { loadConfig } from '../src/config.ts';
import { listen, startControlPlane } from '../src/control-plane.ts';
import { type SessionState, sessions } from '../src/db/schema.ts';
import { createLogger } from '../src/log.ts';
import { transition } from '../src/sessions/transition.ts';
import { cpuSeconds, machineCpu, postmasterPidOf } from './cpu.ts';

const HELP = `Webhook delivery benchmark: node control/bench/webhooks.ts [flags]

  --db KIND        postgres | pglite | both (default both)
  --rate N         target session transitions per second (default 1000)
  --duration S     seconds of load per phase (default 10)
  --poll MS        the worker's idle poll interval, FLOE_WEBHOOK_POLL_MS (default 250);
                   each transition also wakes it, as the supervisor's do
  --concurrency N  connections of the plain-POST peer = the worker's batch (default 50)

Phases per database (fresh database, one tenant, sessions inserted in 'placed'):
  transitions only   closed loop (16 at a time) of transitions, no endpoint subscribed
  plain POST         signed POSTs to the receiver, N at a time, a new connection each (as
                     the worker sends), no database: the sender's HTTP ceiling
  webhooks           transitions at --rate (open loop) with one endpoint on session.*; the
                     receiver verifies each delivery and records transition → arrival
cpu ms/op: CPU time per transition (per POST) of this process (control plane, delivery
worker and load), of PostgreSQL and of the receiver; machine busy: all cores, all processes
(this machine's other work too) during the phase.`;

const ADMIN = 'bench-platform-admin-token-0123456789';
const NEXT: Partial<Record<SessionState, SessionState>> = {
  placed: 'starting',
  starting: 'running',
  running: 'stopping',
  stopping: 'stopped',
};
const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const CPU_HEADER = 'cpu ms/op: server db receiver';
/**
 * Starts a CPU measurement of a phase; its `end(ops)` gives the CPU time per operation of
 * this process (control plane, worker and load), PostgreSQL and the receiver, and how busy
 * the machine's cores were (all processes, ours and others').
 */
function cpuMeter(postmasterPid: number | undefined, receiverPid: number | undefined) {
  const a = cpuSeconds(postmasterPid, receiverPid);
  const m = machineCpu();
  return (ops: number) => {
    const b = cpuSeconds(postmasterPid, receiverPid);
    const n = machineCpu();
    // clamped: a backend that ended between the two reads may have been counted only in the first
    const ms = (x: number, y: number) =>
      ((Math.max(0, y - x) * 1000) / Math.max(1, ops)).toFixed(2);
    return [
      `${ms(a.server, b.server)} ${ms(a.db, b.db)} ${ms(a.other, b.other)}`,
      `${((100 * (n.busy - m.busy)) / Math.max(1, n.total - m.total)).toFixed(0)}%`,
    ];
  };
}

interface Receiver {
  port: number;
  pid: number | undefined;
  send(m: object): void;
  report(): Promise<{
    delays: number[];
    duplicates: number;
    raw: number;
    invalid: number;
    count: number;
  }>;
  close(): void;
}

async function startReceiver(): Promise<Receiver> {
  const child = fork(join(import.meta.dirname, 'webhook-receiver.ts'));
  const port = await new Promise<number>((resolve) =>
    child.once('message', (m: { port: number }) => resolve(m.port)),
  );
  return {
    port,
    pid: child.pid,
    send: (m) => child.send(m),
    report: () =>
      new Promise((resolve) => {
        child.once('message', resolve as never);
        child.send({ report: true });
      }),
    close: () => child.kill(),
  };
}

async function main() {
  const { values: o } = parseArgs({
    options: {
      db: { type: 'string', default: 'both' },
      rate: { type: 'string', default: '1000' },
      duration: { type: 'string', default: '10' },
      poll: { type: 'string', default: '250' },
      concurrency: { type: 'string', default: '50' },
      help: { type: 'boolean', default: false },
    },
  });
  if (o.help) return console.log(HELP);
  const rows: string[][] = [
    ['db', 'phase', 'per s', 'p50 ms', 'p99 ms', 'max ms', CPU_HEADER, 'machine busy', 'note'],
  ];
  for (const kind of o.db === 'both' ? ['postgres', 'pglite'] : [o.db]) {
    const postgres = kind === 'postgres' ? await startPostgres({ durable: true }) : undefined;
    try {
      rows.push(...(await run(kind, o as unknown as Record<string, string>, postgres)));
    } finally {
      postgres?.stop();
    }
  }
  console.log(`\ntarget ${o.rate} transitions/s for ${o.duration} s, poll ${o.poll} ms`);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  '));
}

async function run(kind: string, o: Record<string, string>, postgres?: Postgres) {
  const seconds = Number(o.duration);
  const rate = Number(o.rate);
  const concurrency = Number(o.concurrency);
  const dataDir = mkdtempSync(join(tmpdir(), 'floe-bench-webhooks-'));
  let databaseUrl: string | undefined;
  const postmasterPid = postgres && postmasterPidOf(postgres.dir);
  if (postgres) {
    const admin = new pg.Client(postgres.url);
    await admin.connect();
    await admin.query('create database bench_webhooks');
    await admin.end();
    const url = new URL(postgres.url);
    url.pathname = '/bench_webhooks';
    url.search = `?host=${postgres.dir}`;
    databaseUrl = url.toString();
  }
  const cp = await startControlPlane(
    loadConfig({
      FLOE_ADMIN_TOKEN: ADMIN,
      FLOE_DATA_DIR: dataDir,
      FLOE_LOCAL_CLUSTER: 'false',
      FLOE_WEBHOOK_ALLOW_PRIVATE: 'on',
      FLOE_WEBHOOK_POLL_MS: o.poll,
      ...(databaseUrl && { DATABASE_URL: databaseUrl }),
    }),
    createLogger('silent'),
  );
  const server = await listen(cp, '127.0.0.1', 0);
  const base = `http://127.0.0.1:${server.port}`;
  const call = async (method: string, path: string, body: unknown) => {
    const send = () =>
      fetch(base + path, {
        method,
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    // a keep-alive connection the server closed while a phase ran: once more, on a new one
    const res = await send().catch(send);
    const json = await res.json();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  const receiver = await startReceiver();
  const { db } = cp.database;
  const rows: string[][] = [];
  try {
    console.error(`[${kind}] seeding`);
    const tenant = await call('POST', '/v1/tenants', { slug: 'bench', name: 'Bench' });
    const user = await call('POST', '/v1/tenants/bench/users', { email: 'u@bench.test' });
    const app = await call('POST', '/v1/tenants/bench/apps', {
      slug: 'desk',
      name: 'Desk',
      image: 'desk',
    });
    const cluster = await call('POST', '/v1/clusters', {
      name: 'bench',
      region: 'local',
      driver: 'kubernetes',
    });
    // enough sessions for every phase: each takes 4 transitions
    const needed = Math.ceil((rate * seconds * 1.2 + 4_000 * seconds) / 4);
    const queue: { id: string; state: SessionState }[] = [];
    for (let i = 0; i < needed; i += 1_000) {
      const chunk = Array.from({ length: Math.min(1_000, needed - i) }, () => ({
        id: uuidv7(),
        tenantId: tenant.id,
        userId: user.id,
        appId: app.id,
        clusterId: cluster.id,
        state: 'placed' as const,
      }));
      await db.insert(sessions).values(chunk);
      queue.push(...chunk.map((s) => ({ id: s.id, state: s.state as SessionState })));
    }
    let cursor = 0;
    /** the next transition: sessions in turn, each moved one state per turn */
    const step = async () => {
      const s = queue[cursor++ % queue.length]!;
      const to = NEXT[s.state];
      if (!to) return false;
      s.state = to;
      const row = await transition(db, s.id, to);
      cp.webhooks?.wake(); // as the supervisor does after each transition it records
      return row !== null;
    };

    // 1. transitions with no endpoint: the outbox's INSERT … SELECT finds none
    console.error(`[${kind}] transitions only`);
    {
      let done = 0;
      const end = Date.now() + seconds * 1000;
      const started = performance.now();
      const latencies: number[] = [];
      const cpu = cpuMeter(postmasterPid, receiver.pid);
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (Date.now() < end) {
            const t0 = performance.now();
            if (await step()) done++;
            latencies.push(performance.now() - t0);
          }
        }),
      );
      const elapsed = (performance.now() - started) / 1000;
      latencies.sort((a, b) => a - b);
      rows.push([
        kind,
        'transitions only',
        (done / elapsed).toFixed(0),
        pct(latencies, 0.5).toFixed(1),
        pct(latencies, 0.99).toFixed(1),
        (latencies.at(-1) ?? 0).toFixed(1),
        ...cpu(done),
        'closed loop, 16 at a time, transition latency',
      ]);
    }

    const hook = await call('POST', '/v1/tenants/bench/webhooks', {
      url: `http://127.0.0.1:${receiver.port}/hook`,
      eventTypes: ['session.*'],
    });
    receiver.send({ secret: hook.secret, reset: true });

    // 2. plain signed POSTs, a new connection each, as the worker sends
    console.error(`[${kind}] plain POST`);
    {
      const signer = new Webhook(hook.secret);
      const body = JSON.stringify({
        type: 'session.running',
        timestamp: new Date().toISOString(),
        data: { session: { id: uuidv7() } },
      });
      const post = () =>
        new Promise<void>((resolve, reject) => {
          const id = uuidv7();
          const at = new Date();
          const req = http.request(
            `http://127.0.0.1:${receiver.port}/raw`,
            {
              method: 'POST',
              agent: false,
              headers: {
                'content-type': 'application/json',
                'webhook-id': id,
                'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
                'webhook-signature': signer.sign(id, at, body),
              },
            },
            (res) => {
              res.resume();
              res.on('end', resolve);
            },
          );
          req.on('error', reject);
          req.end(body);
        });
      let done = 0;
      const end = Date.now() + seconds * 1000;
      const started = performance.now();
      const cpu = cpuMeter(postmasterPid, receiver.pid);
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (Date.now() < end) {
            await post();
            done++;
          }
        }),
      );
      const elapsed = (performance.now() - started) / 1000;
      rows.push([
        kind,
        'plain POST',
        (done / elapsed).toFixed(0),
        '',
        '',
        '',
        ...cpu(done),
        `${concurrency} at a time, signed, verified by the receiver`,
      ]);
    }

    // 3. transitions at the target rate, each delivered
    console.error(`[${kind}] webhooks at ${rate}/s`);
    receiver.send({ reset: true });
    {
      let issued = 0;
      let recorded = 0;
      let inFlight = 0;
      let dropped = 0;
      const started = performance.now();
      const end = started + seconds * 1000;
      const pending: Promise<void>[] = [];
      const cpu = cpuMeter(postmasterPid, receiver.pid);
      while (performance.now() < end) {
        const due = Math.floor(((performance.now() - started) / 1000) * rate);
        while (issued < due) {
          issued++;
          if (inFlight >= 500) {
            dropped++; // the database cannot keep up: not sent, counted
            continue;
          }
          inFlight++;
          pending.push(
            step()
              .then((ok) => {
                if (ok) recorded++;
              })
              .finally(() => {
                inFlight--;
              }),
          );
        }
        await sleep(2);
      }
      await Promise.all(pending);
      const loadSeconds = (performance.now() - started) / 1000;
      // transitions and the deliveries made meanwhile (the worker's cost is in `server`)
      const loadCpu = cpu(recorded);
      const atLoadEnd = (await receiver.report()).count;
      // then until every queued delivery arrived
      const queued = async () =>
        Number(
          (
            (await db.execute(
              sql`select count(*)::int as n from webhook_deliveries`,
            )) as unknown as {
              rows: { n: number }[];
            }
          ).rows[0]!.n,
        );
      const total = await queued();
      const drainStart = performance.now();
      let report = await receiver.report();
      while (report.count < total && performance.now() - drainStart < 120_000) {
        await sleep(100);
        report = await receiver.report();
      }
      const allSeconds = (performance.now() - started) / 1000;
      const delays = report.delays.sort((a, b) => a - b);
      rows.push([
        kind,
        'transitions at target',
        (recorded / loadSeconds).toFixed(0),
        '',
        '',
        '',
        ...loadCpu,
        `issued ${issued}, recorded ${recorded}, not issued (500 in flight) ${dropped}`,
      ]);
      rows.push([
        kind,
        'webhooks delivered',
        (atLoadEnd / loadSeconds).toFixed(0),
        pct(delays, 0.5).toFixed(0),
        pct(delays, 0.99).toFixed(0),
        (delays.at(-1) ?? 0).toFixed(0),
        '',
        '',
        `during load; all ${report.count}/${total} after ${allSeconds.toFixed(1)} s ` +
          `(${(report.count / allSeconds).toFixed(0)}/s), duplicates ${report.duplicates}, ` +
          `bad signatures ${report.invalid}; ms = transition → receiver`,
      ]);
    }
    for (const r of rows) console.error(r.join('  '));
  } finally {
    receiver.close();
    await server.close();
    await cp.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return rows;
}

await main();
