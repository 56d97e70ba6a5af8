// The regional gateway: node gateway/src/main.ts (--help lists its settings). With
// FLOE_GATEWAY_WORKERS above 1 this process is the primary of a node:cluster (cluster.ts)
// and the same program runs in each worker.
import cluster from 'node:cluster';
import { startPrimary } from './cluster.ts';
import { HELP, loadConfig } from './config.ts';
import { generateKeySet } from './keys.ts';
import { createLogger } from './log.ts';
import { startGateway } from './server.ts';

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(HELP);
  process.exit(0);
}
if (args.includes('--generate-key')) {
  process.stdout.write(`${JSON.stringify(await generateKeySet())}\n`);
  process.exit(0);
}
const unknown = args.filter((a) => a !== '--help' && a !== '-h');
if (unknown.length > 0) {
  process.stderr.write(`unknown argument ${unknown[0]}; see --help\n`);
  process.exit(2);
}

let config: ReturnType<typeof loadConfig>;
let gateway: { url: string; metricsUrl: string; close(): Promise<void> };
const log = createLogger(process.env.LOG_LEVEL ?? 'info');
try {
  config = loadConfig();
  const primary = config.FLOE_GATEWAY_WORKERS > 1 && cluster.isPrimary;
  gateway = primary
    ? await startPrimary(config, log)
    : await startGateway(config, createLogger(config.LOG_LEVEL, { buffered: true }), {
        worker: cluster.isWorker,
        onFatal: () => process.kill(process.pid, 'SIGTERM'),
      });
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(2);
}
if (!cluster.isWorker) {
  log.info(
    {
      url: gateway.url,
      metrics: gateway.metricsUrl,
      issuer: config.FLOE_GATEWAY_ISSUER,
      control: config.FLOE_CONTROL_URL,
      workers: config.FLOE_GATEWAY_WORKERS,
    },
    'Floe gateway listening on %s',
    gateway.url,
  );
}

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    await gateway.close();
    process.exit(0);
  });
}
