// `npm start`: the whole product on one machine (see platform.ts); prints the URL to open.
import { pino } from 'pino';
import { startPlatform } from './platform.ts';

const HELP = `Usage: npm start [-- --help]

Runs Floe on this machine and prints the URL to open:
  the gateway (sign-in, launcher, admin console, streams)   FLOE_PORT (8080)
  the control plane (PGlite in FLOE_DATA_DIR, .floe)        FLOE_CONTROL_PORT (8079)
  a development identity provider with the demo users       FLOE_IDP_PORT (8078)
  coturn, when /usr/bin/turnserver is installed
Sessions run on this machine: each app gets its own X display, sound server and streamer,
and they end when Floe stops. DATABASE_URL puts the data in PostgreSQL instead.
The parts alone: node control/src/main.ts --help, node gateway/src/main.ts --help
`;

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(HELP);
  process.exit(0);
}

const log = pino({ level: process.env.LOG_LEVEL ?? 'info', base: { service: 'floe' } });
const platform = await startPlatform({
  dataDir: process.env.FLOE_DATA_DIR ?? '.floe',
  port: Number(process.env.FLOE_PORT ?? 8080),
  controlPort: Number(process.env.FLOE_CONTROL_PORT ?? 8079),
  idpPort: Number(process.env.FLOE_IDP_PORT ?? 8078),
  databaseUrl: process.env.DATABASE_URL,
  log,
});

process.stdout.write(
  `\nFloe is running: open ${platform.url}\n` +
    platform.users
      .map((u) => `  sign in as ${u.email} / ${u.password} (${u.roles.join(', ')})\n`)
      .join('') +
    `  API reference: ${platform.controlUrl}/docs\n\n`,
);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping; sessions end with Floe on this machine');
    await platform.close();
    process.exit(0);
  });
}
