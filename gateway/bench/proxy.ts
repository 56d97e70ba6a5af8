// Session proxy benchmark: authenticated HTTP requests through the gateway to a session's
// endpoint, beside hitting the endpoint directly and beside configurable-http-proxy (the
// proxy JupyterHub uses) and nginx doing the same proxying, all in one run on loopback; and
// concurrent WebSocket connections held through the gateway. Prints numbers, asserts none.
// `node gateway/bench/proxy.ts --help`.
import { type ChildProcess, fork, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { cpus, setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { listen, loadConfig as loadControlConfig, startControlPlane } from '@floe/control';
import { cacheDir, ensureK6, freePort, K6_ENV, K6_VERSION, startOidcProvider } from '@floe/testbed';
import { pino } from 'pino';
import { WebSocket } from 'ws';
import { securityHeaders } from '../src/http/security-headers.ts';
import { generateKeySet } from '../src/keys.ts';
import { sessionAnswerSecurity } from '../src/sessions/forward.ts';
import { httpRequest } from '../test/helpers/browser.ts';
import { StandInDriver } from '../test/helpers/stand-in-driver.ts';
import { call, json, signIn } from '../test/helpers/users.ts';

const HELP = `Session proxy benchmark: node gateway/bench/proxy.ts [flags]
(with Node 24: PATH=$PWD/node_modules/.bin:$PATH)

  --duration S       measured seconds per target and phase (default 15)
  --warmup S         unmeasured seconds of load per target before them (default 3)
  --vus N            k6 virtual users = keep-alive connections, phase "max" (default 32)
  --rate R|auto      requests/s of phase "fixed rate"; 0 skips it; auto (the default): half
                     of the lowest throughput of phase "max" in this run, so that every
                     target answers it unsaturated
  --proxies LIST     gateway,chp,nginx or a part of it (default all three); gateway-edge,
                     gateway-floe-edge: the gateway behind its edge (FLOE_GATEWAY_EDGE=haproxy
                     or floe-edge, another gateway stack each), which the aims below are
                     then read from (floe-edge's when both run); the floor of a Node proxy:
                     node-undici, node-http (floor.ts), and of a compiled one: go-httputil
                     (floor-go/), rust-hyper (floor-rust/); the endpoint is always measured
                     directly too, as the baseline
  --ws N             WebSocket connections to open and hold through the gateway (through
                     the last edge in --proxies when one is); 0 skips (default 2000)
  --ws-hold S        seconds to hold them open (default 5)
  --body BYTES       size of the endpoint's answer (default 1024)
  --nginx-workers N  nginx worker_processes (default 1: one core, like the Node proxies)
  --gateway-workers N  the gateway's FLOE_GATEWAY_WORKERS (default 1: one process; 2 on
                     this machine is one per core); RSS and CPU count all its processes
  --no-access-log    the gateway at LOG_LEVEL=warn and nginx with access_log off (default:
                     as they ship, the gateway at info, writing a line a second per session,
                     user, method and status of what its fast path answered and a line per
                     other request, and nginx an access log line per request, both to
                     files; CHP logs no requests)
  --nginx-security-headers  nginx adds the gateway's security headers to every answer
                     (add_header), as the gateway and its edges do: nginx doing the same
                     header work (default: nginx passes the endpoint's answer as it is)
  --proxy-nice=N     run every proxy (all its processes and threads) at this niceness,
                     e.g. --proxy-nice=-10 (as root): on this one machine the proxy then
                     gets a core when it wants one, as on a gateway node of its own, and
                     k6 and the endpoint take what it leaves (default 0: all equal); the
                     same for every proxy
  --profile          CPU-profile the gateway (over --inspect) and the control plane (this
                     process) during the gateway's measured runs, and print where their time
                     goes and what held the event loop 10 ms or more; the .cpuprofile files
                     are kept in the temporary folder. Profiling slows the gateway: take
                     the numbers from a run without it
  --keep             keep the temporary folder (configs, k6 scripts, logs, summaries)
  --help

Everything runs on 127.0.0.1, each in its own process:
  endpoint  node:http answering GET with --body bytes, echoing WebSocket messages (ws);
            stands in for a session's streamer (endpoint.ts)
  gateway   node gateway/src/main.ts, with the testbed's OpenID Provider and a control plane
            on PGlite in this process; a user signs in (the provider's form, no browser),
            launches a session whose endpoint is the one above (a stand-in cluster driver)
            and the load sends GET /sessions/{id}/x with that user's cookies: every request
            is authenticated (session cookie verified) and authorised (the session's owner
            and state asked of the control plane) before it is proxied
  chp       configurable-http-proxy, --default-target the endpoint (no authentication:
            JupyterHub leaves that to the single-user server behind it)
  gateway-edge  the same, with FLOE_GATEWAY_EDGE=haproxy: HAProxy holds the port and takes
            the user's GETs once the gateway has let their cookie through (gateway/src/edge/);
            its CPU and RSS are the gateway's process group, HAProxy included
  gateway-floe-edge  the same with FLOE_GATEWAY_EDGE=floe-edge: Floe's own edge proxy
            (gateway/edge-proxy, Rust, built with cargo at the first start)
  nginx     Debian's nginx, proxy_pass to an upstream with keepalive 64, HTTP/1.1
  node-undici, node-http  floor.ts: node:http forwarding with undici's Agent (a raw dispatch
            handler, as the gateway) or node:http's keep-alive Agent: no checks, no log, what
            Node itself costs
  go-httputil  floor-go/main.go, built with the machine's Go: Go's httputil.ReverseProxy
            with 64 keep-alive connections, nothing else; what a compiled data path costs
  rust-hyper  floor-rust/, built with the machine's cargo: hyper's server and hyper-util's
            client (64 idle connections kept), one thread, nothing else
Every target is sent the same request: the gateway's user's cookies go to all of them
(gateway-edge: its own user's).
  k6        the load (${K6_VERSION}): per target, --warmup s unmeasured, then
    max         constant-vus: --vus connections sending back to back, --duration s:
                throughput (req/s) and its latency, which under saturation is mostly queueing
    fixed rate  after every target's "max": constant-arrival-rate, --rate req/s for
                --duration s, below every target's maximum: the latency a proxy adds
                itself, queueing aside; 4 x --vus VUs (connections) up front, so that a
                stall delays requests (and shows in the p99) rather than drops them
Added p50/p99 = the target's p50/p99 minus the direct run's, in the same phase.
CPU % = CPU time of a process (and its children, e.g. nginx's workers) during the measured
run / its duration; 100 % is one core. "control" is this process: the control plane (and
identity provider), busy only for the gateway. Aim (issue 17): gateway >= 0.6x nginx's
throughput, added p99 < 2 ms at the fixed rate with nothing dropped, and WebSockets held
at < 20 KiB each.
WebSockets (first, while the gateway's heap is small, so that its RSS shows what they
cost): --ws connections opened through the gateway with the user's cookie and Origin (at
most 100 handshakes at a time), each sending a message and waiting for its echo; held
--ws-hold s; how many are still open then, and the gateway's RSS before, with them open
and after they are closed.`;

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;
const REPO = join(import.meta.dirname, '..', '..');
const ADMIN_TOKEN = `bench-${randomBytes(16).toString('hex')}`;

// ---------------------------------------------------------------- processes and cleanup

/** Children in process groups of their own: ended with their children (nginx's workers). */
const children = new Set<ChildProcess>();
const cleanups: (() => void | Promise<void>)[] = [];

function startProcess(
  label: string,
  file: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; log?: string; ipc?: boolean } = {},
): ChildProcess {
  const out = opts.log ? openSync(opts.log, 'a') : 'ignore';
  const stdio = ['ignore', out, out, ...(opts.ipc ? ['ipc' as const] : [])] as const;
  const child = opts.ipc
    ? fork(args[0] as string, args.slice(1), {
        execPath: file,
        env: opts.env,
        stdio: [...stdio],
        detached: true,
      })
    : // spawns: node nginx k6 (what the callers below pass)
      spawn(file, args, { env: opts.env, stdio: [...stdio], detached: true });
  if (typeof out === 'number') closeSync(out); // the child has its own
  children.add(child);
  child.once('exit', (code, signal) => {
    children.delete(child);
    if (!stopping && code !== 0) {
      process.stderr.write(`bench: ${label} exited (${signal ?? code})\n`);
    }
  });
  return child;
}

let stopping = false;

/** Ends every child's process group (SIGTERM: nginx's master stops its workers). */
function killChildren(signal: NodeJS.Signals = 'SIGTERM') {
  stopping = true;
  for (const child of children) {
    try {
      if (child.pid) process.kill(-child.pid, signal);
    } catch {} // gone already
  }
}

let stopped: Promise<void> | undefined;

/** Ends the children, then runs the cleanups, last first; once, however often called. */
function stopAll(): Promise<void> {
  stopped ??= (async () => {
    stopping = true;
    killChildren('SIGTERM');
    const deadline = Date.now() + 3_000;
    while (children.size > 0 && Date.now() < deadline) await sleep(50);
    killChildren('SIGKILL');
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (err) {
        process.stderr.write(`bench: cleanup: ${(err as Error).message}\n`);
      }
    }
  })();
  return stopped;
}

// whatever happens, no child outlives this process (short of SIGKILL)
process.on('exit', () => killChildren('SIGKILL'));
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`bench: ${signal}, stopping\n`);
    void stopAll().finally(() => process.exit(130));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, check: () => Promise<boolean>, ms = 15_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      if (await check()) return;
    } catch {}
    if (Date.now() > deadline) throw new Error(`${what} did not come up in ${ms / 1000} s`);
    await sleep(50);
  }
}

const answers =
  (url: string, status = 200) =>
  async () =>
    (await httpRequest(url)).status === status;

// ---------------------------------------------------------------- /proc

function statOf(pid: number | 'self') {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return {
    pgrp: Number(f[2]),
    own: (Number(f[11]) + Number(f[12])) / CLK_TCK,
    reaped: (Number(f[13]) + Number(f[14])) / CLK_TCK,
  };
}

/** CPU seconds of a process group: its live members and the children its leader reaped. */
function groupCpu(leader: number): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const s = statOf(Number(entry));
      if (s.pgrp === leader) total += s.own + (Number(entry) === leader ? s.reaped : 0);
    } catch {} // it ended meanwhile
  }
  return total;
}

function rssMiB(pid: number): number {
  const kb = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+)/m)?.[1];
  return Number(kb) / 1024;
}

/** Resident memory of a process group (nginx: master and workers; shared pages twice). */
function groupRssMiB(leader: number): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (statOf(Number(entry)).pgrp === leader) total += rssMiB(Number(entry));
    } catch {} // it ended meanwhile
  }
  return total;
}

/** Sets the niceness of every thread of every process of a group (Linux's is per thread). */
function reniceGroup(leader: number, nice: number) {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (statOf(Number(entry)).pgrp !== leader) continue;
      for (const task of readdirSync(`/proc/${entry}/task`)) setPriority(Number(task), nice);
    } catch {} // it ended meanwhile
  }
}

function openFilesLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8').match(/^Max open files\s+(\d+)/m);
  return line ? Number(line[1]) : Number.POSITIVE_INFINITY;
}

// ---------------------------------------------------------------- the parts

async function startEndpoint(dir: string, bodyBytes: number) {
  const port = await freePort();
  const child = startProcess(
    'endpoint',
    process.execPath,
    [join(import.meta.dirname, 'endpoint.ts'), String(port), String(bodyBytes)],
    { ipc: true, log: join(dir, 'endpoint.log') },
  );
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`the endpoint exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}`, pid: child.pid as number };
}

async function startFloor(dir: string, endpoint: string, client: 'undici' | 'http') {
  const port = await freePort();
  const child = startProcess(
    `node-${client}`,
    process.execPath,
    [join(import.meta.dirname, 'floor.ts'), String(port), endpoint, client],
    { ipc: true, log: join(dir, `node-${client}.log`) },
  );
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`node-${client} exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}`, pid: child.pid as number };
}

/** The compiled floors: a standard proxy of each language with nothing of its own. */
const COMPILED_FLOORS = {
  // Go's standard httputil.ReverseProxy (floor-go/main.go)
  'go-httputil': {
    source: 'floor-go',
    files: ['main.go', 'go.mod'],
    binary: 'floor-go',
    build: (bin: string) => ['go', 'build', '-trimpath', '-o', bin, '.'],
  },
  // hyper's server and hyper-util's pooled client, one thread (floor-rust/src/main.rs)
  'rust-hyper': {
    source: 'floor-rust',
    files: ['src/main.rs', 'Cargo.toml', 'Cargo.lock'],
    binary: 'target/release/floor-rust',
    build: (bin: string) => [
      'cargo',
      'build',
      '--release',
      '--locked',
      '--target-dir',
      join(bin, '..', '..'),
    ],
  },
} as const;
type CompiledFloor = keyof typeof COMPILED_FLOORS;

/** A compiled floor, built once per version of its source into the cache. */
function buildCompiledFloor(name: CompiledFloor): string {
  const floor = COMPILED_FLOORS[name];
  const source = join(import.meta.dirname, floor.source);
  const hash = createHash('sha256');
  for (const f of floor.files) hash.update(readFileSync(join(source, f)));
  const bin = join(cacheDir(floor.source, hash.digest('hex').slice(0, 12)), floor.binary);
  if (existsSync(bin)) return bin;
  const [command, ...args] = floor.build(bin);
  process.stderr.write(`bench: building ${floor.source} (once per version of its source)\n`);
  // spawns: go cargo
  const r = spawnSync(command as string, args, {
    cwd: source,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (r.status !== 0 || !existsSync(bin)) throw new Error(`${command} build of ${source} failed`);
  return bin;
}

async function startCompiledFloor(dir: string, endpoint: string, name: CompiledFloor) {
  const port = await freePort();
  // spawns: floor-go floor-rust
  const child = startProcess(name, buildCompiledFloor(name), [String(port), endpoint], {
    log: join(dir, `${name}.log`),
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(name, answers(`${url}/x`));
  return { url, pid: child.pid as number };
}

interface GatewayStack {
  url: string;
  /** its Prometheus endpoint, on a listener apart from `url` */
  metricsUrl: string;
  pid: number;
  sessionPath: string;
  headers: Record<string, string>;
  profiler?: Profiler;
}

/**
 * The control plane (PGlite) and the OpenID Provider in this process, the gateway in its
 * own; bob of acme signs in and launches a session that runs at `endpoint`.
 */
async function startGatewayStack(
  dir: string,
  endpoint: string,
  logLevel: string,
  profile: boolean,
  workers: number,
  edge: 'off' | 'haproxy' | 'floe-edge' = 'off',
): Promise<GatewayStack> {
  const port = await freePort();
  const metricsPort = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const client = {
    clientId: 'floe-gateway-acme',
    clientSecret: randomBytes(24).toString('base64url'),
    redirectUris: [`${url}/callback`],
  };
  const op = await startOidcProvider({ clients: [client] });
  cleanups.push(() => op.stop());

  const cp = await startControlPlane(
    loadControlConfig({
      FLOE_ADMIN_TOKEN: ADMIN_TOKEN,
      FLOE_DATA_DIR: join(dir, edge === 'off' ? 'control' : `control-${edge}`),
      FLOE_LOCAL_CLUSTER: 'true',
      FLOE_LOCAL_STREAMING: 'off',
      FLOE_SECRET_KEY: randomBytes(32).toString('base64'),
      FLOE_GATEWAY_JWKS_URL: `${url}/.well-known/jwks.json`,
      FLOE_GATEWAY_ISSUER: url,
      // the testbed's provider is plain http on loopback
      FLOE_DEV_INSECURE_ISSUERS: 'on',
      LOG_LEVEL: 'silent',
    }),
    pino({ level: 'silent' }),
  );
  cleanups.push(() => cp.close({ terminateSessions: true }));
  const control = await listen(cp, '127.0.0.1', 0);
  cleanups.push(() => control.close());
  const controlUrl = `http://127.0.0.1:${control.port}`;
  const must = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(controlUrl + path, {
      method,
      headers: {
        authorization: `Bearer ${ADMIN_TOKEN}`,
        ...(body !== undefined && { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  const cluster = await must('POST', '/v1/clusters', {
    name: 'stand-in',
    region: 'stand-in',
    driver: 'kubernetes',
  });
  cp.supervisor.attach(cluster.id, new StandInDriver(() => endpoint));
  await must('POST', '/v1/tenants', { slug: 'acme', name: 'Acme', allowedRegions: ['stand-in'] });
  await must('POST', '/v1/tenants/acme/apps', {
    slug: 'desktop',
    name: 'Desktop',
    command: ['sleep', '600'],
    image: 'floe/desktop:bench',
    env: {},
  });
  await must('PUT', '/v1/tenants/acme/identity-provider', {
    issuer: op.issuer,
    clientId: client.clientId,
    clientSecret: client.clientSecret,
    rolesClaim: 'floe_roles',
    adminRoles: ['tenant-admin'],
    hostnames: ['acme.localhost'],
  });
  const key = await must('POST', '/v1/api-keys', { name: 'bench gateway', role: 'gateway' });

  const inspectPort = profile ? await freePort() : 0;
  const gateway = startProcess(
    'gateway',
    process.execPath,
    [
      ...(profile ? [`--inspect=127.0.0.1:${inspectPort}`] : []),
      join(REPO, 'gateway', 'src', 'main.ts'),
    ],
    {
      log: join(dir, edge === 'off' ? 'gateway.log' : `gateway-${edge}.log`),
      env: {
        ...process.env,
        FLOE_GATEWAY_PORT: String(port),
        FLOE_GATEWAY_METRICS_PORT: String(metricsPort),
        FLOE_GATEWAY_HOST: '127.0.0.1',
        FLOE_GATEWAY_ISSUER: url,
        FLOE_CONTROL_URL: controlUrl,
        FLOE_GATEWAY_CONTROL_TOKEN: key.token,
        FLOE_GATEWAY_KEYS: JSON.stringify(await generateKeySet()),
        FLOE_DEV_INSECURE_ISSUERS: 'on',
        LOG_LEVEL: logLevel,
        FLOE_GATEWAY_WORKERS: String(workers),
        ...(edge !== 'off' && { FLOE_GATEWAY_EDGE: edge }),
      },
    },
  );
  await waitFor('the gateway', answers(`${url}/healthz`));

  const bob = await signIn(url, 'bob');
  const launched = await call(bob, url, 'POST', '/api/v1/tenants/acme/sessions', {
    app: 'desktop',
  });
  if (launched.status !== 201) throw new Error(`launch: ${launched.status} ${launched.body}`);
  const id = json(launched).id as string;
  await waitFor(
    'the session',
    async () =>
      json(await call(bob, url, 'GET', `/api/v1/tenants/acme/sessions/${id}`)).state === 'running',
  );
  const sessionPath = `/sessions/${id}/x`;
  const headers = { cookie: bob.cookieHeader(url) };
  // what every benchmark request will be: proxied, and with no cookie to renew
  const probe = await httpRequest(url + sessionPath, { headers });
  if (probe.status !== 200) throw new Error(`GET ${sessionPath}: ${probe.status} ${probe.body}`);
  if (probe.setCookies.length > 0) {
    process.stderr.write(`bench: the gateway sets cookies on each answer: ${probe.setCookies}\n`);
  }
  return {
    url,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    pid: gateway.pid as number,
    sessionPath,
    headers,
    profiler: profile ? await remoteProfiler(inspectPort) : undefined,
  };
}

async function startChp(dir: string, endpoint: string) {
  const [port, apiPort] = [await freePort(), await freePort()];
  const bin = realpathSync(join(REPO, 'node_modules', '.bin', 'configurable-http-proxy'));
  const child = startProcess(
    'configurable-http-proxy',
    process.execPath,
    [
      bin,
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--api-ip',
      '127.0.0.1',
      '--api-port',
      String(apiPort),
      '--default-target',
      endpoint,
    ],
    {
      log: join(dir, 'chp.log'),
      env: { ...process.env, CONFIGPROXY_AUTH_TOKEN: randomBytes(16).toString('hex') },
    },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor('configurable-http-proxy', answers(`${url}/x`));
  return { url, pid: child.pid as number };
}

function nginxVersion(): string {
  const r = spawnSync('/usr/sbin/nginx', ['-v'], { encoding: 'utf8' });
  return (r.stderr || r.stdout).trim().replace(/^nginx version: /, '');
}

/** The headers the gateway (and its edges) put on every session answer, over plain HTTP. */
const SESSION_SECURITY = sessionAnswerSecurity(securityHeaders(false));

async function startNginx(
  dir: string,
  endpoint: string,
  workers: number,
  accessLog: boolean,
  securityHeaders: boolean,
) {
  const port = await freePort();
  const root = join(dir, 'nginx');
  mkdirSync(join(root, 'tmp'), { recursive: true });
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((t) => `  ${t}_temp_path ${join(root, 'tmp', t)};`)
    .join('\n');
  const conf = `# written by gateway/bench/proxy.ts
${process.getuid?.() === 0 ? 'user root;' : ''}
worker_processes ${workers};
pid ${join(root, 'nginx.pid')};
error_log ${join(root, 'error.log')} warn;
events { worker_connections 16384; }
http {
  access_log ${accessLog ? join(root, 'access.log') : 'off'};
${temp}
  upstream session {
    server ${new URL(endpoint).host};
    keepalive 64;
  }
  map $http_upgrade $connection_upgrade { default upgrade; '' ''; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://session;
      proxy_http_version 1.1;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
${securityHeaders ? SESSION_SECURITY.map(([n, v]) => `      add_header ${n} "${v}" always;`).join('\n') : ''}
    }
  }
}
`;
  const confPath = join(root, 'nginx.conf');
  writeFileSync(confPath, conf);
  const child = startProcess(
    'nginx',
    '/usr/sbin/nginx',
    ['-p', root, '-e', join(root, 'error.log'), '-c', confPath, '-g', 'daemon off;'],
    { log: join(root, 'stderr.log') },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor('nginx', answers(`${url}/x`));
  return { url, pid: child.pid as number };
}

// ---------------------------------------------------------------- k6

const K6_SCRIPT = `// written by gateway/bench/proxy.ts
import http from 'k6/http';

const vus = Number(__ENV.VUS);
export const options = {
  discardResponseBodies: true,
  maxRedirects: 0,
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(99)', 'max'],
  scenarios: {
    load:
      __ENV.MODE === 'rate'
        ? {
            executor: 'constant-arrival-rate',
            rate: Number(__ENV.RATE),
            timeUnit: '1s',
            duration: __ENV.DURATION,
            // a stall longer than vus / rate seconds would otherwise find no free VU, and
            // k6 drops (never sends) the requests that would have waited: the tail would
            // go uncounted. Enough VUs up front that they are sent, late, and measured.
            preAllocatedVUs: vus * 4,
            maxVUs: vus * 4,
          }
        : { executor: 'constant-vus', vus, duration: __ENV.DURATION },
  },
};
http.setResponseCallback(http.expectedStatuses(200));
const url = __ENV.TARGET_URL;
const params = { headers: JSON.parse(__ENV.TARGET_HEADERS) };
export default function () {
  http.get(url, params);
}
`;

interface Target {
  name: string;
  url: string;
  /** the proxy's process group, none for the endpoint itself */
  pid?: number;
  headers?: Record<string, string>;
}

interface Run {
  rate: number;
  count: number;
  failed: number;
  dropped: number;
  p50: number;
  p90: number;
  p99: number;
  /** CPU %, 100 = one core */
  cpu: { proxy?: number; control: number; endpoint: number; k6: number };
  /** proxy CPU µs per request */
  cpuPerRequest?: number;
  /** the proxy's resident memory after the run */
  rss?: number;
}

interface Phase {
  mode: 'vus' | 'rate';
  duration: number;
  vus: number;
  rate?: number;
}

async function k6Run(ctx: { k6: string; dir: string; endpointPid: number }, t: Target, p: Phase) {
  const script = join(ctx.dir, 'load.js');
  writeFileSync(script, K6_SCRIPT);
  const summary = join(ctx.dir, `summary-${t.name}-${p.mode}-${Date.now()}.json`);
  const env = {
    ...process.env,
    ...K6_ENV,
    MODE: p.mode,
    VUS: String(p.vus),
    RATE: String(p.rate ?? 0),
    DURATION: `${p.duration}s`,
    TARGET_URL: t.url,
    TARGET_HEADERS: JSON.stringify(t.headers ?? {}),
  };
  const cpuBefore = {
    proxy: t.pid ? groupCpu(t.pid) : 0,
    endpoint: groupCpu(ctx.endpointPid),
    control: process.cpuUsage(),
    reaped: statOf('self').reaped,
  };
  const child = startProcess('k6', ctx.k6, ['run', '-q', '--summary-export', summary, script], {
    env,
    log: join(ctx.dir, 'k6.log'),
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`k6 exited with ${code}; see ${join(ctx.dir, 'k6.log')}`);
  const pct = (seconds: number) => (seconds / p.duration) * 100;
  const control = process.cpuUsage(cpuBefore.control);
  const proxyCpu = t.pid ? groupCpu(t.pid) - cpuBefore.proxy : undefined;
  // k6 has exited and been reaped by now: its CPU time is in this process's children's
  const k6Cpu = statOf('self').reaped - cpuBefore.reaped;
  const m = JSON.parse(readFileSync(summary, 'utf8')).metrics;
  const d = m.http_req_duration;
  const count = m.http_reqs?.count ?? 0;
  const run: Run = {
    rate: count / p.duration,
    count,
    // a Rate metric's "passes" are its true samples: the failed requests
    failed: m.http_req_failed?.passes ?? 0,
    dropped: m.dropped_iterations?.count ?? 0,
    p50: d.med,
    p90: d['p(90)'],
    p99: d['p(99)'],
    cpu: {
      proxy: proxyCpu === undefined ? undefined : pct(proxyCpu),
      control: pct((control.user + control.system) / 1e6),
      endpoint: pct(groupCpu(ctx.endpointPid) - cpuBefore.endpoint),
      k6: pct(k6Cpu),
    },
    cpuPerRequest: proxyCpu === undefined || count === 0 ? undefined : (proxyCpu / count) * 1e6,
    rss: t.pid ? groupRssMiB(t.pid) : undefined,
  };
  return run;
}

// ---------------------------------------------------------------- WebSockets

interface WsResult {
  asked: number;
  opened: number;
  echoed: number;
  failures: Map<string, number>;
  openSeconds: number;
  heldOpen: number;
  gaugeOpen: number | null;
  rss: { before: number; open: number; after: number };
}

/** One authenticated WebSocket through the gateway that got its message echoed. */
function openEchoed(url: string, headers: Record<string, string>, i: number) {
  return new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(url, { headers, perMessageDeflate: false, handshakeTimeout: 15_000 });
    const text = `hello ${i}`;
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error('no echo in 15 s'));
    }, 15_000);
    ws.once('open', () => ws.send(text));
    ws.once('message', (data) => {
      clearTimeout(timer);
      if (String(data) === text) resolve(ws);
      else {
        ws.terminate();
        reject(new Error('wrong echo'));
      }
    });
    ws.once('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      ws.terminate();
      reject(new Error(`HTTP ${res.statusCode}`));
    });
    ws.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error((err as NodeJS.ErrnoException).code ?? err.message));
    });
  });
}

async function websockets(g: GatewayStack, n: number, holdSeconds: number): Promise<WsResult> {
  const url = `${g.url.replace('http', 'ws')}${g.sessionPath.replace(/x$/, 'signal')}`;
  const headers = { ...g.headers, origin: g.url };
  const sockets: WebSocket[] = [];
  const failures = new Map<string, number>();
  // the gateway's process group: with --gateway-workers, its primary and workers
  const rssBefore = groupRssMiB(g.pid);
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      try {
        sockets.push(await openEchoed(url, headers, i));
      } catch (err) {
        const reason = (err as Error).message;
        failures.set(reason, (failures.get(reason) ?? 0) + 1);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(100, n) }, worker));
  const openSeconds = (performance.now() - started) / 1000;
  let closed = 0;
  for (const ws of sockets) ws.once('close', () => closed++);
  await sleep(holdSeconds * 1000);
  const rssOpen = groupRssMiB(g.pid);
  const metrics = await httpRequest(g.metricsUrl);
  const gauge = metrics.body.match(/^floe_gateway_websockets_open (\d+)/m)?.[1];
  const heldOpen = sockets.filter((ws) => ws.readyState === WebSocket.OPEN).length;
  for (const ws of sockets) ws.close();
  await waitFor('the WebSockets to close', async () => closed >= sockets.length, 20_000).catch(
    () => {},
  );
  await sleep(1000);
  return {
    asked: n,
    opened: sockets.length,
    echoed: sockets.length,
    failures,
    openSeconds,
    heldOpen,
    gaugeOpen: gauge === undefined ? null : Number(gauge),
    rss: { before: rssBefore, open: rssOpen, after: groupRssMiB(g.pid) },
  };
}

// ---------------------------------------------------------------- profiles

interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    children?: number[];
  }[];
  samples: number[];
  timeDeltas: number[];
}

interface Profiler {
  start(): Promise<void>;
  stop(): Promise<CpuProfile>;
}

/** This process's V8 profiler (the control plane and the identity provider). */
async function selfProfiler(): Promise<Profiler> {
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  return {
    start: async () => void (await session.post('Profiler.start')),
    stop: async () => (await session.post('Profiler.stop')).profile as unknown as CpuProfile,
  };
}

/** Another process's V8 profiler over the DevTools protocol (it runs with --inspect). */
async function remoteProfiler(inspectPort: number): Promise<Profiler> {
  let targets: { webSocketDebuggerUrl: string }[] = [];
  await waitFor('the inspector', async () => {
    targets = JSON.parse((await httpRequest(`http://127.0.0.1:${inspectPort}/json/list`)).body);
    return targets.length > 0;
  });
  const ws = new WebSocket(targets[0]!.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  let id = 0;
  const pending = new Map<number, (result: unknown) => void>();
  ws.on('message', (data) => {
    const m = JSON.parse(String(data));
    if (m.id !== undefined) pending.get(m.id)?.(m.result);
  });
  const send = (method: string, params: object = {}) =>
    new Promise<unknown>((resolve) => {
      pending.set(++id, resolve);
      ws.send(JSON.stringify({ id, method, params }));
    });
  await send('Profiler.enable');
  await send('Profiler.setSamplingInterval', { interval: 200 });
  cleanups.push(() => ws.terminate());
  return {
    start: async () => void (await send('Profiler.start')),
    stop: async () => ((await send('Profiler.stop')) as { profile: CpuProfile }).profile,
  };
}

/** Where a profile's url belongs: an npm package, a file of the repo, a part of Node. */
function moduleOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const pkg = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/)?.[1];
  if (pkg) return pkg;
  if (url.startsWith('node:')) return url.split('/').slice(0, 3).join('/');
  const repo = url.indexOf(`${REPO}/`);
  if (repo >= 0) return url.slice(repo + REPO.length + 1);
  return url.replace(/^file:\/\//, '');
}

/** Node's own code and native frames: their time is blamed on whoever called them. */
const isNodeOwn = (m: string) =>
  (m.startsWith('node:') && m !== 'node:internal/deps/undici') || m === '(native)';

/**
 * Self time by function and by module (package or file), and by owner: the nearest frame
 * up the stack in a package (undici, Node's fetch, counts as one) or a file of the repo,
 * which Node's internals and native code (socket writes, connects, crypto) are blamed on.
 */
function summarise(profile: CpuProfile, top: number): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const moduleOfNode = (id: number) => {
    const { functionName, url } = byId.get(id)!.callFrame;
    return moduleOf(url, functionName);
  };
  const owners = new Map<number, string>();
  const ownerOf = (nodeId: number) => {
    let who = owners.get(nodeId);
    if (who !== undefined) return who;
    who = moduleOfNode(nodeId);
    for (let up = parent.get(nodeId); up !== undefined && isNodeOwn(who); up = parent.get(up)) {
      const m = moduleOfNode(up);
      if (!isNodeOwn(m) && !m.startsWith('(')) who = m;
    }
    if (isNodeOwn(who)) who = 'Node itself (no caller of ours on the stack)';
    owners.set(nodeId, who);
    return who;
  };
  const add = (m: Map<string, number>, k: string, us: number) => m.set(k, (m.get(k) ?? 0) + us);
  const fn = new Map<string, number>();
  const mod = new Map<string, number>();
  const owner = new Map<string, number>();
  // stretches of busy samples (no idle one between): tasks that hold the event loop
  const LONG_US = 10_000;
  const inLong = new Map<string, number>();
  let longCount = 0;
  let longest = 0;
  let stretch: [string, number][] = [];
  let stretchUs = 0;
  const endStretch = () => {
    if (stretchUs >= LONG_US) {
      longCount++;
      longest = Math.max(longest, stretchUs);
      for (const [k, us] of stretch) add(inLong, k, us);
    }
    stretch = [];
    stretchUs = 0;
  };
  let total = 0;
  let idle = 0;
  profile.samples.forEach((nodeId, i) => {
    // timeDeltas[i] is the time before sample i: it belongs to the sample before
    const us = profile.timeDeltas[i + 1] ?? 0;
    total += us;
    const { functionName, url, lineNumber } = byId.get(nodeId)!.callFrame;
    const m = moduleOf(url, functionName);
    if (m === '(idle)') {
      idle += us;
      endStretch();
      return;
    }
    add(fn, `${functionName || '(anonymous)'}${url ? ` ${m}:${lineNumber + 1}` : ''}`, us);
    add(mod, m, us);
    const who = ownerOf(nodeId);
    add(owner, who, us);
    stretch.push([who, us]);
    stretchUs += us;
  });
  endStretch();
  const busy = total - idle;
  const list = (m: Map<string, number>, of = busy, n = top) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, us]) => `    ${((us / of) * 100).toFixed(1).padStart(5)} %  ${k}`)
      .join('\n');
  const longUs = [...inLong.values()].reduce((a, b) => a + b, 0);
  const long =
    longCount === 0
      ? '  no busy stretch of 10 ms or more (the loop was never held that long)'
      : `  ${longCount} busy stretches of 10 ms or more (the longest ${(longest / 1000).toFixed(0)} ms, ` +
        `${(longUs / 1e6).toFixed(2)} s in all); by owner, % of their time:\n${list(inLong, longUs, 6)}`;
  return (
    `  busy ${(busy / 1e6).toFixed(2)} s of ${(total / 1e6).toFixed(2)} s sampled; % of busy:\n` +
    `  by owner (with the Node internals and native code it called):\n${list(owner)}\n` +
    `  self time by module:\n${list(mod, busy, 8)}\n  self time by function:\n${list(fn)}\n${long}`
  );
}

// ---------------------------------------------------------------- report

const f1 = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '–' : x.toFixed(1));
const f2 = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '–' : x.toFixed(2));
const signed = (x: number) => (x >= 0 ? `+${x.toFixed(2)}` : x.toFixed(2));

function table(rows: string[][]) {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [
    line(rows[0]!),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.slice(1).map(line),
  ].join('\n');
}

function phaseTable(results: Map<string, Run>) {
  const direct = results.get('direct');
  const rows = [
    [
      'target',
      'req/s',
      'p50 ms',
      'p90 ms',
      'p99 ms',
      'added p50',
      'added p99',
      'errors',
      'dropped',
      'proxy CPU %',
      'proxy CPU µs/req',
      'proxy RSS MiB',
      'control CPU %',
      'endpoint CPU %',
      'k6 CPU %',
    ],
  ];
  for (const [name, r] of results) {
    rows.push([
      name,
      r.rate.toFixed(0),
      f2(r.p50),
      f2(r.p90),
      f2(r.p99),
      direct && name !== 'direct' ? signed(r.p50 - direct.p50) : '–',
      direct && name !== 'direct' ? signed(r.p99 - direct.p99) : '–',
      String(r.failed),
      String(r.dropped),
      f1(r.cpu.proxy),
      f1(r.cpuPerRequest),
      r.rss === undefined ? '–' : r.rss.toFixed(0),
      f1(r.cpu.control),
      f1(r.cpu.endpoint),
      f1(r.cpu.k6),
    ]);
  }
  return table(rows);
}

// ---------------------------------------------------------------- main

class UsageError extends Error {}

/** `parse()`, its errors being usage errors. */
function usage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function positive(name: string, value: string, allowZero = false): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) {
    throw new UsageError(
      `--${name} ${value}: expected a ${allowZero ? 'non-negative' : 'positive'} number`,
    );
  }
  return n;
}

async function main() {
  const { values: o } = usage(() =>
    parseArgs({
      allowNegative: true,
      options: {
        duration: { type: 'string', default: '15' },
        warmup: { type: 'string', default: '3' },
        vus: { type: 'string', default: '32' },
        rate: { type: 'string', default: 'auto' },
        proxies: { type: 'string', default: 'gateway,chp,nginx' },
        ws: { type: 'string', default: '2000' },
        'ws-hold': { type: 'string', default: '5' },
        body: { type: 'string', default: '1024' },
        'nginx-workers': { type: 'string', default: '1' },
        'gateway-workers': { type: 'string', default: '1' },
        'access-log': { type: 'boolean', default: true },
        'nginx-security-headers': { type: 'boolean', default: false },
        'proxy-nice': { type: 'string', default: '0' },
        keep: { type: 'boolean', default: false },
        profile: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }),
  );
  if (o.help) {
    console.log(HELP);
    return;
  }
  const duration = positive('duration', o.duration);
  const warmup = positive('warmup', o.warmup, true);
  const vus = Math.round(positive('vus', o.vus));
  let rate = o.rate === 'auto' ? Number.NaN : positive('rate', o.rate, true);
  const wsCount = Math.round(positive('ws', o.ws, true));
  const wsHold = positive('ws-hold', o['ws-hold'], true);
  const bodyBytes = Math.round(positive('body', o.body, true));
  const nginxWorkers = Math.round(positive('nginx-workers', o['nginx-workers']));
  const gatewayWorkers = Math.round(positive('gateway-workers', o['gateway-workers']));
  if (gatewayWorkers > 1 && o.profile) {
    throw new UsageError('--profile profiles one gateway process: use --gateway-workers 1');
  }
  const proxyNice = Number(o['proxy-nice']);
  if (!Number.isInteger(proxyNice) || proxyNice < -20 || proxyNice > 19) {
    throw new UsageError(`--proxy-nice ${o['proxy-nice']}: expected a whole number from -20 to 19`);
  }
  const proxies = o.proxies.split(',').map((s) => s.trim());
  for (const p of proxies) {
    const known = [
      'gateway',
      'gateway-edge',
      'gateway-floe-edge',
      'chp',
      'nginx',
      'node-undici',
      'node-http',
      'go-httputil',
      'rust-hyper',
    ];
    if (!known.includes(p)) throw new UsageError(`--proxies: unknown ${p}`);
  }
  if (wsCount > 0 && !proxies.some((p) => p.startsWith('gateway')))
    throw new UsageError('--ws needs the gateway (or one behind an edge) in --proxies');
  const fdLimit = openFilesLimit();
  // each of the gateway's processes holds two sockets per WebSocket
  const perProcess = Math.ceil(wsCount / gatewayWorkers);
  if (wsCount > 0 && 2 * perProcess + 200 > fdLimit) {
    process.stderr.write(
      `bench: the open files limit (${fdLimit}) is below what ${wsCount} WebSockets need ` +
        `in the gateway (2 per connection in each of its ${gatewayWorkers} processes); expect ` +
        `failures, or raise it (ulimit -n ${2 * perProcess + 1000}) or --gateway-workers\n`,
    );
  }

  const dir = mkdtempSync(join(tmpdir(), 'floe-proxy-bench-'));
  cleanups.push(() => {
    if (o.keep || o.profile) process.stderr.write(`bench: kept ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  });
  const k6 = ensureK6();
  const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

  const endpoint = await startEndpoint(dir, bodyBytes);
  const targets: Target[] = [{ name: 'direct', url: `${endpoint.url}/x` }];
  let gateway: GatewayStack | undefined;
  let edged: GatewayStack | undefined;
  for (const p of proxies) {
    if (p === 'gateway') {
      gateway = await startGatewayStack(
        dir,
        endpoint.url,
        o['access-log'] ? 'info' : 'warn',
        o.profile,
        gatewayWorkers,
      );
      targets.push({
        name: 'gateway',
        url: gateway.url + gateway.sessionPath,
        pid: gateway.pid,
        headers: gateway.headers,
      });
    } else if (p === 'gateway-edge' || p === 'gateway-floe-edge') {
      // another gateway, with its own control plane and provider, behind its edge
      edged = await startGatewayStack(
        dir,
        endpoint.url,
        o['access-log'] ? 'info' : 'warn',
        false,
        1,
        p === 'gateway-edge' ? 'haproxy' : 'floe-edge',
      );
      targets.push({
        name: p,
        url: edged.url + edged.sessionPath,
        pid: edged.pid,
        headers: edged.headers,
      });
    } else if (p === 'node-undici' || p === 'node-http') {
      const floor = await startFloor(dir, endpoint.url, p === 'node-undici' ? 'undici' : 'http');
      targets.push({ name: p, url: `${floor.url}/x`, pid: floor.pid });
    } else if (p === 'go-httputil' || p === 'rust-hyper') {
      const floor = await startCompiledFloor(dir, endpoint.url, p);
      targets.push({ name: p, url: `${floor.url}/x`, pid: floor.pid });
    } else if (p === 'chp') {
      const chp = await startChp(dir, endpoint.url);
      targets.push({ name: 'chp', url: `${chp.url}/x`, pid: chp.pid });
    } else {
      const nginx = await startNginx(
        dir,
        endpoint.url,
        nginxWorkers,
        o['access-log'],
        o['nginx-security-headers'],
      );
      targets.push({ name: 'nginx', url: `${nginx.url}/x`, pid: nginx.pid });
    }
  }

  if (proxyNice !== 0) {
    for (const t of targets) if (t.pid && t.name !== 'direct') reniceGroup(t.pid, proxyNice);
    log(`proxies at niceness ${proxyNice}`);
  }

  // every target gets the same request: the gateway's user's cookies go to the endpoint,
  // CHP, nginx and the floors too (they pass them on), so the bytes each proxy reads are the
  // same; with only an edged gateway in the run, its user's (until 2026-12-07 the others
  // then got no cookie: 72 bytes to read against the edge's 1,462)
  const signedIn = gateway ?? edged;
  if (signedIn) for (const t of targets) t.headers ??= signedIn.headers;

  // first, while the gateway's heap is small: its RSS then shows what the connections cost,
  // not the free heap the HTTP load leaves behind
  // through the gateway as it runs: behind its edge when that is measured
  let ws: WsResult | undefined;
  const wsStack = edged ?? gateway;
  if (wsStack && wsCount > 0) {
    log(`WebSockets: opening ${wsCount} through the ${edged ? 'edge and the ' : ''}gateway`);
    ws = await websockets(wsStack, wsCount, wsHold);
  }

  const ctx = { k6, dir, endpointPid: endpoint.pid };
  const max = new Map<string, Run>();
  const fixed = new Map<string, Run>();
  const profiles: string[] = [];
  /** A measured run, CPU-profiled when it is the gateway's and --profile asks. */
  const measure = async (t: Target, phase: Phase, label: string) => {
    const profilers =
      t.name === 'gateway' && gateway?.profiler ? [gateway.profiler, await selfProfiler()] : [];
    for (const p of profilers) await p.start();
    const run = await k6Run(ctx, t, phase);
    for (const [i, p] of profilers.entries()) {
      const profile = await p.stop();
      const name = i === 0 ? 'gateway' : 'control';
      const what =
        i === 0 ? 'the gateway process' : 'this process: control plane, identity provider';
      writeFileSync(join(dir, `${name}-${label}.cpuprofile`), JSON.stringify(profile));
      profiles.push(`${name}, phase ${label} (${what}):\n${summarise(profile, 12)}`);
    }
    return run;
  };
  for (const t of targets) {
    if (warmup > 0) {
      log(`${t.name}: warming up ${warmup} s`);
      await k6Run(ctx, t, { mode: 'vus', duration: warmup, vus });
    }
    log(`${t.name}: max, ${vus} VUs, ${duration} s`);
    const m = await measure(t, { mode: 'vus', duration, vus }, 'max');
    max.set(t.name, m);
    log(`${t.name}: ${m.rate.toFixed(0)} req/s, p99 ${m.p99.toFixed(2)} ms, ${m.failed} errors`);
  }
  if (Number.isNaN(rate)) {
    const slowest = Math.min(...[...max.values()].map((r) => r.rate));
    rate = Math.max(10, Math.floor(slowest / 2 / 10) * 10);
  }
  for (const t of rate > 0 ? targets : []) {
    log(`${t.name}: fixed rate, ${rate} req/s, ${duration} s`);
    const r = await measure(t, { mode: 'rate', duration, vus, rate }, 'fixed-rate');
    fixed.set(t.name, r);
    log(`${t.name}: p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, ${r.dropped} dropped`);
  }

  const chpVersion = JSON.parse(
    readFileSync(join(REPO, 'node_modules', 'configurable-http-proxy', 'package.json'), 'utf8'),
  ).version;
  console.log(
    `\n## Session proxy benchmark\n\n` +
      `${cpus().length} CPUs (${cpus()[0]?.model.trim()}), Node ${process.version}, ` +
      `k6 ${K6_VERSION}, configurable-http-proxy ${chpVersion}, nginx ${nginxVersion()} ` +
      `(${nginxWorkers} worker${nginxWorkers > 1 ? 's' : ''}), gateway ${gatewayWorkers} ` +
      `process${gatewayWorkers > 1 ? 'es (node:cluster workers)' : ''}; GET of ${bodyBytes} bytes; ` +
      `access logs ${o['access-log'] ? 'on (gateway info, nginx access_log)' : 'off'}; ` +
      `${proxyNice !== 0 ? `every proxy at niceness ${proxyNice}; ` : ''}` +
      `warmup ${warmup} s, then ${duration} s per phase.\n`,
  );
  console.log(`### max: constant-vus, ${vus} keep-alive connections\n`);
  console.log(phaseTable(max));
  if (fixed.size > 0) {
    const how = o.rate === 'auto' ? ' (auto: half the slowest "max")' : '';
    console.log(`\n### fixed rate: constant-arrival-rate, ${rate} req/s${how}\n`);
    console.log(phaseTable(fixed));
  }
  if (ws) {
    const failed = [...ws.failures].map(([why, k]) => `${k} ${why}`).join(', ');
    const per = ws.opened > 0 ? ((ws.rss.open - ws.rss.before) * 1024) / ws.opened : Number.NaN;
    console.log(
      `\n### WebSockets through the gateway\n\n` +
        `${ws.opened}/${ws.asked} opened and echoed in ${ws.openSeconds.toFixed(1)} s` +
        `${failed ? ` (failed: ${failed})` : ''}; ${ws.heldOpen} still open after ${wsHold} s ` +
        `(gateway gauge floe_gateway_websockets_open: ${ws.gaugeOpen ?? '?'}); gateway RSS ` +
        `${ws.rss.before.toFixed(0)} MiB before, ${ws.rss.open.toFixed(0)} MiB with them open ` +
        `(${f1(per)} KiB each), ${ws.rss.after.toFixed(0)} MiB after closing.`,
    );
  }

  if (profiles.length > 0) {
    console.log(`\n### Where the time goes: the gateway's runs, V8 CPU profiles\n`);
    console.log(profiles.join('\n\n'));
    console.log(`\nprofiles (Chrome DevTools, speedscope): ${dir}/*.cpuprofile`);
  }
  // the gateway as it runs: behind its edge when that was measured
  const measured =
    ['gateway-floe-edge', 'gateway-edge'].find((p) => max.has(p)) ?? ('gateway' as string);
  const g = max.get(measured);
  const c = max.get('chp');
  const gFixed = fixed.get(measured);
  const dFixed = fixed.get('direct');
  const d = max.get('direct');
  const n = max.get('nginx');
  console.log(
    '\n### Aim: gateway >= 0.6x nginx throughput, added p99 < 2 ms at the fixed rate, ' +
      'WebSockets < 20 KiB each\n',
  );
  if (g && n) {
    const ratio = g.rate / n.rate;
    console.log(
      `throughput ${measured}/nginx: ${ratio.toFixed(2)}x (${g.rate.toFixed(0)} / ${n.rate.toFixed(0)} req/s): ` +
        `${ratio >= 0.6 ? 'met' : 'NOT met'}`,
    );
  }
  if (g && c) {
    console.log(`throughput ${measured}/CHP: ${(g.rate / c.rate).toFixed(2)}x`);
  }
  if (gFixed && dFixed) {
    const added = gFixed.p99 - dFixed.p99;
    const kept = gFixed.dropped === 0 && gFixed.failed === 0;
    console.log(
      `added p99 at ${rate} req/s: ${signed(added)} ms: ${added < 2 && kept ? 'met' : 'NOT met'}` +
        `${kept ? '' : ` (${measured} dropped ${gFixed.dropped} and failed ${gFixed.failed})`}`,
    );
  }
  if (ws && ws.opened > 0) {
    const per = ((ws.rss.open - ws.rss.before) * 1024) / ws.opened;
    const all = ws.heldOpen === ws.asked;
    console.log(
      `WebSockets: ${ws.heldOpen}/${ws.asked} held, ${f1(per)} KiB each: ` +
        `${per < 20 && all ? 'met' : 'NOT met'}`,
    );
  }
  if (g && d) {
    console.log(`added p99 at max load (${vus} VUs, mostly queueing): ${signed(g.p99 - d.p99)} ms`);
  }
}

try {
  await main();
} catch (err) {
  if (err instanceof UsageError) {
    process.stderr.write(`bench: ${err.message}; see --help\n`);
    process.exitCode = 2;
  } else if (!stopping) {
    // (once stopping, what fails is only what the signal ended)
    process.stderr.write(`bench: ${(err as Error).stack ?? err}\n`);
    process.exitCode = 1;
  }
} finally {
  await stopAll();
}
// the control plane's and provider's handles may linger
process.exit();
