// Several control-plane replicas on one PostgreSQL: how fast a configuration change made
// through one replica reaches another (an API key revoked on A, refused on B), beside the
// same on A itself; and how fast a cluster's driver moves when the replica driving it is
// SIGKILLed (its death seen from its pid) or SIGSTOPped (frozen: its lease must expire),
// until the new owner has attached its driver and reconciled. `npm run bench:replicas -- --help`.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startPostgres } from '@floe/testbed';
import pg from 'pg';

const HELP = `Replicas benchmark: npm run bench:replicas -- [flags]

  --revokes N    API keys revoked through replica A, each polled on B and on A (default 30)
  --failovers N  SIGKILLs, and as many SIGSTOPs, of the replica driving a cluster (default 5)

Two control-plane processes (control/src/main.ts) on one throwaway PostgreSQL server.
config propagation: a key is created and used on B (so B has it cached), revoked through A,
  and polled with sequential requests on B until B answers 401; the peer is the same on A,
  which revoked it. Time from sending the DELETE to the first 401.
driver failover: a Kubernetes cluster (its API server a stub that answers 503) is driven by
  one replica; that process is killed (SIGKILL) or frozen (SIGSTOP), and the time is taken
  until the other logs that it drives the cluster (lease taken, driver attached, its
  sessions reconciled). A SIGKILLed process of the same machine is seen dead from its pid;
  a frozen one keeps its lease until it expires (3 s, renewed every 1 s). A new replica
  replaces the one killed before the next round.`;

const { values: args } = parseArgs({
  options: {
    revokes: { type: 'string', default: '30' },
    failovers: { type: 'string', default: '5' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (args.help) {
  process.stdout.write(`${HELP}\n`);
  process.exit(0);
}

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const ADMIN = `bench-admin-${randomBytes(12).toString('hex')}`;

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createNetServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

interface Replica {
  url: string;
  child: ChildProcess;
  /** resolves at the first log line matching */
  waitFor(
    match: (line: Record<string, unknown>) => boolean,
  ): Promise<{ at: number; line: Record<string, unknown> }>;
}

async function startReplica(env: Record<string, string>): Promise<Replica> {
  const port = await freePort();
  // spawns: node
  const child = spawn(process.execPath, [MAIN], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: {
      ...process.env,
      ...env,
      PORT: String(port),
      FLOE_DATA_DIR: mkdtempSync(join(tmpdir(), 'floe-replica-')),
      FLOE_ADMIN_TOKEN: ADMIN,
      FLOE_LOCAL_CLUSTER: 'false',
      LOG_LEVEL: 'info',
    },
  });
  const waiting = new Set<{
    match: (l: Record<string, unknown>) => boolean;
    done: (r: { at: number; line: Record<string, unknown> }) => void;
  }>();
  createInterface({ input: child.stdout! }).on('line', (text) => {
    const at = performance.now();
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text);
    } catch {
      return;
    }
    for (const w of waiting) {
      if (w.match(line)) {
        waiting.delete(w);
        w.done({ at, line });
      }
    }
  });
  const replica: Replica = {
    url: `http://127.0.0.1:${port}`,
    child,
    waitFor: (match) => new Promise((done) => waiting.add({ match, done })),
  };
  await replica.waitFor((l) => typeof l.url === 'string');
  return replica;
}

async function call(r: Replica, method: string, path: string, body?: unknown, token = ADMIN) {
  const res = await fetch(r.url + path, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

const pct = (xs: number[], p: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
};
const summary = (xs: number[]) =>
  `p50 ${pct(xs, 0.5).toFixed(1)} ms, p99 ${pct(xs, 0.99).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms (n=${xs.length})`;

const postgres = await startPostgres();
const admin = new pg.Client(postgres.url);
await admin.connect();
await admin.query('create database replicas_bench');
await admin.end();
const url = new URL(postgres.url);
url.pathname = '/replicas_bench';
const env = {
  DATABASE_URL: url.toString(),
  FLOE_SECRET_KEY: randomBytes(32).toString('base64'),
};
const db = new pg.Client(env.DATABASE_URL);
const replicas: Replica[] = [];
const apiServer = createServer((_req, res) => res.writeHead(503).end());
try {
  replicas.push(await startReplica(env));
  replicas.push(await startReplica(env));
  await db.connect();
  const [a, b] = replicas as [Replica, Replica];

  // config propagation
  await call(a, 'POST', '/v1/tenants', { slug: 'bench', name: 'Bench' });
  const cross: number[] = [];
  const same: number[] = [];
  const revokes = Number(args.revokes);
  for (let i = 0; i < revokes * 2; i++) {
    const target = i % 2 === 0 ? b : a;
    const key = await call(a, 'POST', '/v1/tenants/bench/api-keys', {
      name: `k${i}`,
      role: 'tenant-admin',
    });
    const token = key.body.token as string;
    for (let j = 0; j < 2; j++) {
      const ok = await call(target, 'GET', '/v1/tenants/bench/apps', undefined, token);
      if (ok.status !== 200) throw new Error(`the new key was refused: ${ok.status}`);
    }
    const started = performance.now();
    const revoked = call(a, 'DELETE', `/v1/tenants/bench/api-keys/${key.body.id}`);
    for (;;) {
      const r = await call(target, 'GET', '/v1/tenants/bench/apps', undefined, token);
      if (r.status === 401) break;
    }
    (target === b ? cross : same).push(performance.now() - started);
    await revoked;
  }

  // driver failover
  await new Promise<void>((r) => apiServer.listen(0, '127.0.0.1', r));
  const server = `http://127.0.0.1:${(apiServer.address() as { port: number }).port}`;
  const kubeconfig = JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server } }],
    users: [{ name: 'u', user: { token: 't' } }],
    contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'x',
  });
  const cluster = await call(a, 'POST', '/v1/clusters', {
    name: 'k',
    region: 'eu-west',
    driver: 'kubernetes',
    kubeconfig,
  });
  const clusterId = cluster.body.id as string;
  const holderPid = async () => {
    const { rows } = await db.query(
      'select holder from cluster_leases where cluster_id = $1 and expires_at > now()',
      [clusterId],
    );
    const holder = rows[0]?.holder as string | undefined;
    return holder ? Number(holder.split(':').at(-2)) : null;
  };
  type Phase = { total: number[]; lease: number[]; attach: number[] };
  const phases = (): Phase => ({ total: [], lease: [], attach: [] });
  const failover = { SIGKILL: phases(), SIGSTOP: phases() };
  for (let round = 0; round < Number(args.failovers) * 2; round++) {
    const signal = round % 2 === 0 ? 'SIGKILL' : 'SIGSTOP';
    // settled: a live holder among the two replicas, stable for 2 s (a replica that just
    // joined may win the cluster by rendezvous hashing and take it over meanwhile)
    let pid: number | null = null;
    for (let stable = 0; stable < 4; ) {
      await new Promise((r) => setTimeout(r, 500));
      const now = await holderPid();
      stable = now !== null && now === pid ? stable + 1 : 0;
      pid = now;
    }
    const owner = replicas.find((r) => r.child.pid === pid);
    const other = replicas.find((r) => r !== owner);
    if (!owner || !other) throw new Error(`the holder ${pid} is not one of the replicas`);
    const driving = other.waitFor(
      (l) => l.clusterId === clusterId && l.msg === `driving cluster k`,
    );
    const started = performance.now();
    owner.child.kill(signal);
    const { at, line } = await driving;
    failover[signal].total.push(at - started);
    // the replica logs how long attaching and reconciling took, after it took the lease
    failover[signal].lease.push(at - started - Number(line.reconciledMs));
    failover[signal].attach.push(Number(line.reconciledMs));
    owner.child.kill('SIGKILL');
    replicas.splice(replicas.indexOf(owner), 1);
    replicas.push(await startReplica(env));
  }

  const ratio = pct(cross, 0.5) / pct(same, 0.5);
  process.stdout.write(
    [
      '',
      'config propagation (API key revoked through A, until refused)',
      `  on B (another replica): ${summary(cross)}`,
      `  on A (the same replica, peer): ${summary(same)}`,
      `  ratio of medians B/A: ${ratio.toFixed(2)}`,
      'driver failover (until the other replica drives the cluster, reconciled)',
      ...(['SIGKILL', 'SIGSTOP'] as const).flatMap((signal) => [
        `  ${signal} ${signal === 'SIGKILL' ? '(death seen from its pid)' : '(frozen: its lease expires, 3 s)'}`,
        `    until driven and reconciled: ${summary(failover[signal].total)}`,
        `    until the lease was taken: ${summary(failover[signal].lease)}`,
        `    attaching and reconciling: ${summary(failover[signal].attach)}`,
      ]),
      '',
    ].join('\n'),
  );
} finally {
  for (const r of replicas) r.child.kill('SIGKILL');
  await db.end().catch(() => {});
  apiServer.close();
  postgres.stop();
}
