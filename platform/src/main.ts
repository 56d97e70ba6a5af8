// `npm start`: the whole product on one machine (see platform.ts); prints the URL to open.
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { startPlatform } from './platform.ts';

const HELP = `Usage: npm start [-- --port-base N] [-- --data-dir DIR] [-- --help]

Runs Floe on this machine and prints the URL to open:
  the gateway (sign-in, launcher, admin console, streams)   port N      (FLOE_PORT, 8080)
  the control plane (PGlite in the data folder)             port N - 1  (FLOE_CONTROL_PORT)
  a development identity provider with the demo users       port N - 2  (FLOE_IDP_PORT)
  the gateway's Prometheus /metrics (not on the gateway's)   port N - 3  (FLOE_GATEWAY_METRICS_PORT)
  coturn, when /usr/bin/turnserver is installed (free ports)
Options:
  --port-base N   the gateway on N, the control plane on N-1, the identity provider on N-2,
                  its metrics on N-3, so that a second Floe can run beside the first
                  (default 8080)
  --data-dir DIR  database, keys and session logs (FLOE_DATA_DIR, default .floe); kept
                  across restarts
Sessions run on this machine: each app gets its own X display, sound server and streamer,
and they end when Floe stops (Ctrl+C). DATABASE_URL puts the data in PostgreSQL instead.
The parts alone: node control/src/main.ts --help, node gateway/src/main.ts --help
`;

function fail(message: string): never {
  process.stderr.write(`npm start: ${message}\n`);
  process.exit(2);
}

const options = {
  'port-base': { type: 'string' },
  'data-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;
let args: ReturnType<typeof parseArgs<{ options: typeof options }>>['values'];
try {
  args = parseArgs({ options }).values;
} catch (err) {
  fail(`${(err as Error).message}\n\n${HELP}`);
}
if (args.help) {
  process.stdout.write(HELP);
  process.exit(0);
}

const port = (name: string, value: string | undefined, fallback: number) => {
  const n = Number(value ?? fallback);
  if (!Number.isInteger(n) || n < 1 || n > 65535)
    fail(`${name} must be a port (1-65535): ${value}`);
  return n;
};
const base = port('--port-base', args['port-base'], 8080);
if (args['port-base'] !== undefined && base < 4) fail('--port-base must be at least 4');
const byBase = args['port-base'] !== undefined;
const ports = {
  gateway: byBase ? base : port('FLOE_PORT', process.env.FLOE_PORT, base),
  'control plane': byBase
    ? base - 1
    : port('FLOE_CONTROL_PORT', process.env.FLOE_CONTROL_PORT, 8079),
  'identity provider': byBase ? base - 2 : port('FLOE_IDP_PORT', process.env.FLOE_IDP_PORT, 8078),
  'gateway metrics': byBase
    ? base - 3
    : port('FLOE_GATEWAY_METRICS_PORT', process.env.FLOE_GATEWAY_METRICS_PORT, 8077),
};

/** Whether 127.0.0.1:port can be listened on now. */
const free = (p: number) =>
  new Promise<boolean>((resolve) => {
    const server = createServer()
      .once('error', () => resolve(false))
      .listen(p, '127.0.0.1', () => server.close(() => resolve(true)));
  });
for (const [part, p] of Object.entries(ports)) {
  if (!(await free(p))) {
    fail(
      `port ${p} (the ${part}) is in use, by another Floe or another program. ` +
        'Stop it, or run beside it with: npm start -- --port-base N',
    );
  }
}

// no `service` in the base: each part's child logger names itself, once per line
const log = pino({ level: process.env.LOG_LEVEL ?? 'info', base: { pid: process.pid } });
const dataDir = resolve(args['data-dir'] ?? process.env.FLOE_DATA_DIR ?? '.floe');
let failed = false;
const platform = await startPlatform({
  dataDir,
  port: ports.gateway,
  metricsPort: ports['gateway metrics'],
  controlPort: ports['control plane'],
  idpPort: ports['identity provider'],
  databaseUrl: process.env.DATABASE_URL,
  log,
  // stops as on Ctrl-C, sessions included, and exits 1
  onFatal: () => {
    failed = true;
    process.kill(process.pid, 'SIGTERM');
  },
});

process.stdout.write(
  `\nFloe is running: open ${platform.url}\n` +
    platform.users
      .map((u) => `  sign in as ${u.email} / ${u.password} (${u.roles.join(', ')})\n`)
      .join('') +
    `  API reference: ${platform.controlUrl}/docs\n` +
    `  platform-admin API key: in ${join(dataDir, 'dev-admin-token')}\n\n`,
);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    log
      .child({ service: 'floe' })
      .info({ signal }, 'stopping; sessions end with Floe on this machine');
    await platform.close();
    process.exit(failed ? 1 : 0);
  });
}
