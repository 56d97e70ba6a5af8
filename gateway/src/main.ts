// The regional gateway: node gateway/src/main.ts (--help lists its settings).
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
let gateway: Awaited<ReturnType<typeof startGateway>>;
const log = createLogger(process.env.LOG_LEVEL ?? 'info');
try {
  config = loadConfig();
  gateway = await startGateway(config, createLogger(config.LOG_LEVEL, { buffered: true }));
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(2);
}
log.info(
  {
    url: gateway.url,
    metrics: gateway.metricsUrl,
    issuer: config.FLOE_GATEWAY_ISSUER,
    control: config.FLOE_CONTROL_URL,
  },
  'Floe gateway listening on %s',
  gateway.url,
);

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
