// `npm start`: the control plane on this machine (PGlite in .floe/ unless DATABASE_URL is set).
import { loadConfig } from './config.ts';
import { listen, startControlPlane } from './control-plane.ts';
import { DataDirInUse } from './db/data-dir-lock.ts';
import { createLogger } from './log.ts';

const HELP = `Usage: npm run start:control [-- --help]   (or: npx node control/src/main.ts [--help])

Runs the Floe control plane. Configuration comes from the environment:
  PORT                     HTTP port (default 8080)
  HOST                     address to bind (default 127.0.0.1)
  DATABASE_URL             PostgreSQL URL; without it PGlite keeps data in $FLOE_DATA_DIR
  FLOE_DATA_DIR            data folder (default .floe)
  FLOE_ADMIN_TOKEN         accepted as a platform-admin API key; otherwise one is
                           generated at first start and printed once
  FLOE_GATEWAY_TOKEN       accepted as the regional gateways' API key (role gateway,
                           /v1/gateway/* only), for installs that configure both ends
                           (the Helm chart); otherwise make one with POST /v1/api-keys
  FLOE_REGION              region of the local cluster (default local)
  FLOE_LOCAL_CLUSTER       true: register the "local" cluster, which runs sessions as
                           sandboxed processes of this machine (bubblewrap); default false
  FLOE_LOCAL_SESSION_UID   when run as root: the user local sessions' apps run as (64000)
  FLOE_LOCAL_MAX_SESSIONS  sessions the local runner takes at once (default 16)
  FLOE_SWEEP_INTERVAL_MS   how often GPU-hour quotas are enforced on running sessions (10000)
  FLOE_SESSION_RESYNC_MS   how often every session is synced again, events aside (300000)
  FLOE_LOCAL_GPUS          GPUs the local runner offers, e.g. "l4:1" (default none)
  FLOE_LOCAL_STREAMING     on: each local session gets an X display and a streamer, whose
                           URL is the session's endpoint; off: the app runs alone (on)
  FLOE_TURN_URLS           TURN servers the streamers offer browsers, comma-separated
  FLOE_TURN_SECRET         their shared secret (coturn's static-auth-secret); sessions get
                           credentials minted from it, never the secret
  FLOE_TURN_TTL_SECONDS    the longest such a credential lasts (86400; less for apps with a
                           shorter maxLifetimeSeconds)
  FLOE_LOCAL_IDLE_CHECK_MS how often the local runner asks its sessions' streamers for the
                           last input (default 30000): an idle stop lands at most this late
  FLOE_SHUTDOWN_WARNING_SECONDS  how long before an idle or lifetime stop of a local
                           session its viewers are warned (default 60; half the timeout
                           when that is shorter; 0: never)
  FLOE_DB_POOL_SIZE        PostgreSQL connections (default 10)
  FLOE_SECRET_KEY          32 bytes in base64 (openssl rand -base64 32) that encrypt secrets
                           at rest (identity providers' client secrets, AES-256-GCM); when
                           unset, one is generated at first start into
                           $FLOE_DATA_DIR/secret.key (mode 0600). Keep it; replicas sharing a
                           database must all be given the same key
  FLOE_GATEWAY_JWKS_URL    JWKS of the regional gateways: a bearer token that is a JWT is
                           verified against it (ES256, audience floe-control, at most 5 min
                           old) and acts as the user it names; unset: API keys only
  FLOE_GATEWAY_ISSUER      the issuer ("iss") those tokens must carry; set with the above
  FLOE_DEV_INSECURE_ISSUERS  on: tenants' identity providers may be plain http and on
                           loopback or private hosts (development only; default off)
  FLOE_WEBHOOK_ALLOW_PRIVATE  on: webhooks may target loopback, private and link-local
                           addresses (development; default off: public addresses only)
  FLOE_WEBHOOK_DENY_CIDRS  the cluster's own ranges, comma-separated: never a webhook target
  FLOE_WEBHOOK_WORKER      off: this replica queues webhooks but does not send them
                           (default on; replicas share the outbox safely)
  FLOE_WEBHOOK_POLL_MS     the delivery worker's idle poll (default 250)
  FLOE_BILLING_AUTO_CLOSE_HOURS  billing periods close by themselves this many hours
                           after they end (default 72; usage reported later becomes an
                           adjustment in the next period); off: only an admin closes them
  FLOE_BILLING_CLOSE_CHECK_MS  how often a replica looks for periods to close
                           (default 3600000, the first look one interval after start)
  LOG_LEVEL                fatal|error|warn|info|debug|trace|silent (default info)
`;

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(HELP);
  process.exit(0);
}

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(2);
}
const log = createLogger(config.LOG_LEVEL);
let cp: Awaited<ReturnType<typeof startControlPlane>>;
try {
  cp = await startControlPlane(config, log);
} catch (err) {
  if (!(err instanceof DataDirInUse)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
}
const server = await listen(cp, config.HOST, config.PORT);
const url = `http://${config.HOST}:${server.port}`;
log.info(
  { url, database: cp.database.kind, docs: `${url}/docs` },
  'Floe control plane listening on %s (API reference: %s/docs)',
  url,
  url,
);
if (cp.bootstrapToken) {
  process.stdout.write(
    `\nA platform-admin API key was created; it is shown this once:\n\n  ${cp.bootstrapToken}\n\n` +
      `Try: curl -H 'Authorization: Bearer ${cp.bootstrapToken}' ${url}/v1/tenants\n\n`,
  );
}

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  log.info(
    { signal },
    'shutting down; running sessions keep running and are adopted at next start',
  );
  await server.close();
  await cp.close();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
