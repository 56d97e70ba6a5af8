/**
 * `npm start`: the whole product on one machine. A development identity provider
 * (oidc-provider) with the demo tenant's users, coturn when installed, the control plane on
 * PGlite with the local session runner, and the gateway in front, serving the launcher.
 * Prints one URL. State (database, keys, tokens) lives in FLOE_DATA_DIR (.floe).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { listen, loadConfig as loadControlConfig, startControlPlane } from '@floe/control';
import { generateKeySet, loadConfig as loadGatewayConfig, startGateway } from '@floe/gateway';
import { startCoturn, startOidcProvider, TEST_USERS } from '@floe/testbed';
import { pino } from 'pino';

const HELP = `Usage: npm start [-- --help]

Runs Floe on this machine and prints the URL to open:
  the gateway (sign-in, launcher, admin console, streams)   FLOE_PORT (8080)
  a development identity provider with the demo users       FLOE_IDP_PORT (8078)
  the control plane (PGlite in FLOE_DATA_DIR, .floe)        FLOE_CONTROL_PORT (8079)
  coturn, when /usr/bin/turnserver is installed
Sessions run on this machine: each app gets its own X display, sound server and streamer.
Run the control plane alone with: node control/src/main.ts --help
`;

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(HELP);
  process.exit(0);
}

const log = pino({ level: process.env.LOG_LEVEL ?? 'info', base: { service: 'floe' } });
const dataDir = resolve(process.env.FLOE_DATA_DIR ?? '.floe');
mkdirSync(dataDir, { recursive: true });
const port = Number(process.env.FLOE_PORT ?? 8080);
const controlPort = Number(process.env.FLOE_CONTROL_PORT ?? 8079);
const idpPort = Number(process.env.FLOE_IDP_PORT ?? 8078);
const publicUrl = `http://127.0.0.1:${port}`;

/** A secret kept in the data folder, so that restarts keep sessions, keys and sign-ins. */
function kept(name: string, make: () => string): string {
  const file = join(dataDir, name);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const value = make();
  writeFileSync(file, `${value}\n`, { mode: 0o600 });
  return value;
}
const random = () => randomBytes(32).toString('base64url');
const adminToken = kept('dev-admin-token', random);
const clientSecret = kept('dev-oidc-client-secret', random);
const gatewayKeys = kept('gateway-keys.json', () => '');
const keys = gatewayKeys || JSON.stringify(await generateKeySet());
if (!gatewayKeys) writeFileSync(join(dataDir, 'gateway-keys.json'), keys, { mode: 0o600 });

const demoUsers = TEST_USERS.filter((u) => u.tenant === 'acme');
const idp = await startOidcProvider({
  port: idpPort,
  users: demoUsers,
  clients: [
    {
      clientId: 'floe-dev',
      clientSecret,
      redirectUris: [`${publicUrl}/callback`, `http://localhost:${port}/callback`],
    },
  ],
});

const turn = existsSync('/usr/bin/turnserver') ? await startCoturn({ relayPorts: 64 }) : null;
if (!turn) log.warn('coturn is not installed: streams go direct, without a TURN relay');
const turnEnv = turn ? { FLOE_TURN_URLS: turn.url, FLOE_TURN_SECRET: turn.secret } : {};

const control = await startControlPlane(
  loadControlConfig({
    ...process.env,
    FLOE_DATA_DIR: dataDir,
    FLOE_ADMIN_TOKEN: adminToken,
    FLOE_GATEWAY_ISSUER: publicUrl,
    FLOE_GATEWAY_JWKS_URL: `${publicUrl}/.well-known/jwks.json`,
    ...turnEnv,
  }),
  log.child({ service: 'floe-control' }),
);
const controlServer = await listen(control, '127.0.0.1', controlPort);
const controlUrl = `http://127.0.0.1:${controlServer.port}`;

/** The control plane's API as the platform admin, for the demo's setup. */
async function api(method: string, path: string, body?: unknown) {
  const res = await fetch(controlUrl + path, {
    method,
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return {
    status: res.status,
    body: (await res.json().catch(() => null)) as Record<string, never>,
  };
}

// The demo tenant, its identity provider and apps that ship with Debian. (On the gateway's
// own host a tenant is chosen by a login hint; tenants' own host names need DNS.) Idempotent: a restart finds them and refreshes the provider's settings.
if ((await api('GET', '/v1/tenants/acme')).status === 404) {
  await api('POST', '/v1/tenants', { slug: 'acme', name: 'Acme (demo)' });
}
await api('PUT', '/v1/tenants/acme/identity-provider', {
  issuer: idp.issuer,
  clientId: 'floe-dev',
  clientSecret,
  rolesClaim: 'floe_roles',
  adminRoles: ['tenant-admin'],
});
const demoApps = [
  {
    slug: 'terminal',
    name: 'Terminal',
    description: 'xterm, a shell on this machine',
    command: ['xterm'],
  },
  { slug: 'eyes', name: 'Eyes', description: 'xeyes follows your pointer', command: ['xeyes'] },
  {
    slug: 'clock',
    name: 'Clock',
    description: 'xclock, an analog clock',
    command: ['xclock', '-update', '1'],
  },
];
for (const app of demoApps) {
  if ((await api('GET', `/v1/tenants/acme/apps/${app.slug}`)).status === 404) {
    await api('POST', '/v1/tenants/acme/apps', app);
  }
}
const gatewayToken = kept('dev-gateway-token', () => '');
const token =
  gatewayToken ||
  String(
    (await api('POST', '/v1/api-keys', { name: 'npm start gateway', role: 'gateway' })).body.token,
  );
if (!gatewayToken) writeFileSync(join(dataDir, 'dev-gateway-token'), token, { mode: 0o600 });

const gateway = await startGateway(
  loadGatewayConfig({
    ...process.env,
    FLOE_GATEWAY_PORT: String(port),
    FLOE_GATEWAY_ISSUER: publicUrl,
    FLOE_CONTROL_URL: controlUrl,
    FLOE_GATEWAY_CONTROL_TOKEN: token,
    FLOE_GATEWAY_KEYS: keys,
    FLOE_GATEWAY_WEB_DIR: resolve('web/dist'),
    ...turnEnv,
  }),
  log.child({ service: 'floe-gateway' }),
);

process.stdout.write(
  `\nFloe is running: open ${publicUrl}/login?tenant=acme\n` +
    demoUsers
      .map((u) => `  sign in as ${u.email} / ${u.password} (${u.roles.join(', ')})\n`)
      .join('') +
    `  API reference: ${controlUrl}/docs\n\n`,
);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping: sessions end with Floe on this machine');
    await gateway.close();
    await controlServer.close();
    await control.close({ terminateSessions: true });
    await turn?.stop();
    await idp.stop();
    process.exit(0);
  });
}
