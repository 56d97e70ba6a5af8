/**
 * The whole product on one machine: a development identity provider (oidc-provider) with a
 * demo tenant's users, coturn when installed, the control plane with the local session
 * runner, and the gateway in front serving the launcher. `npm start` runs it; the product
 * flow test runs it on the testbed's PostgreSQL.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listen, loadConfig as loadControlConfig, startControlPlane } from '@floe/control';
import type { App } from '@floe/control/api-types';
import { generateKeySet, loadConfig as loadGatewayConfig, startGateway } from '@floe/gateway';
import {
  processStartTime,
  startCoturn,
  startOidcProvider,
  TEST_USERS,
  type TestUser,
} from '@floe/testbed';
import type { Logger } from 'pino';

export const DEMO_TENANT = 'acme';

export interface DemoApp {
  slug: string;
  name: string;
  description: string;
  command: string[];
  /** stopped after this long without input (warned first); the schema's minimum is 60 */
  idleTimeoutSeconds?: number;
  /** stopped this long after it started running, whatever happens (warned first) */
  maxLifetimeSeconds?: number;
  /** video codecs in order of preference (the app's videoCodecs); absent: the streamer's */
  videoCodecs?: NonNullable<App['videoCodecs']>;
}

/** X applications that ship with Debian. */
export const DEMO_APPS: DemoApp[] = [
  { slug: 'terminal', name: 'Terminal', description: 'xterm, a shell', command: ['xterm'] },
  { slug: 'eyes', name: 'Eyes', description: 'xeyes follows your pointer', command: ['xeyes'] },
  {
    slug: 'clock',
    name: 'Clock',
    description: 'xclock, an analog clock',
    command: ['xclock', '-update', '1'],
  },
];

export interface PlatformOptions {
  /** database, keys and tokens; kept across restarts */
  dataDir: string;
  /** the gateway's port: the one URL people open */
  port: number;
  /** the gateway's Prometheus /metrics, apart from the port people open */
  metricsPort: number;
  controlPort: number;
  idpPort: number;
  /** PostgreSQL instead of PGlite in dataDir */
  databaseUrl?: string;
  /** a part ended that the platform cannot run without (the gateway's edge, HAProxy) */
  onFatal?: () => void;
  apps?: DemoApp[];
  /** coturn when installed (default), or none */
  turn?: boolean;
  /** without a `service` binding: each part's child logger names itself */
  log: Logger;
  /** more of the control plane's settings (its FLOE_* variables), e.g. for a test's timing */
  controlEnv?: Record<string, string>;
}

export interface Platform {
  /** where to sign in: the gateway with the demo tenant as login hint */
  url: string;
  gatewayUrl: string;
  /** the gateway's Prometheus endpoint */
  metricsUrl: string;
  controlUrl: string;
  users: TestUser[];
  /** a platform-admin token for the control plane's API */
  adminToken: string;
  close(opts?: { terminateSessions?: boolean }): Promise<void>;
}

/** the coturn this platform started: its pid, start time and folder (which holds the secret) */
const COTURN_RECORD = 'coturn.json';

/**
 * An earlier run killed before it could stop its coturn (SIGKILL) left it running, and its
 * folder with the TURN secret: end both before starting another.
 */
function stopLeftoverCoturn(dataDir: string, log: Logger) {
  const file = join(dataDir, COTURN_RECORD);
  if (!existsSync(file)) return;
  try {
    const { pid, start, dir } = JSON.parse(readFileSync(file, 'utf8'));
    if (typeof pid === 'number' && start && processStartTime(pid) === start) {
      process.kill(pid, 'SIGKILL');
      log.child({ service: 'floe' }).warn({ pid }, 'stopped the coturn an earlier run left');
    }
    if (typeof dir === 'string' && basename(dir).startsWith('floe-coturn-')) {
      rmSync(dir, { recursive: true, force: true });
    }
  } catch {
    // an unreadable record names nothing to stop
  }
  rmSync(file, { force: true });
}

const WEB_DIST = fileURLToPath(new URL('../../web/dist', import.meta.url));

export async function startPlatform(opts: PlatformOptions): Promise<Platform> {
  const { log } = opts;
  const dataDir = resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const gatewayUrl = `http://127.0.0.1:${opts.port}`;

  // Secrets kept in the data folder, so that restarts keep sign-ins, keys and sessions.
  const kept = async (name: string, make: () => string | Promise<string>) => {
    const file = join(dataDir, name);
    if (existsSync(file)) return readFileSync(file, 'utf8').trim();
    const value = await make();
    writeFileSync(file, `${value}\n`, { mode: 0o600 });
    return value;
  };
  const random = () => randomBytes(32).toString('base64url');
  const adminToken = await kept('dev-admin-token', random);
  const clientSecret = await kept('dev-oidc-client-secret', random);
  const keys = await kept('gateway-keys.json', async () => JSON.stringify(await generateKeySet()));

  const users = TEST_USERS.filter((u) => u.tenant === DEMO_TENANT);
  const idp = await startOidcProvider({
    port: opts.idpPort,
    users,
    clients: [{ clientId: 'floe-dev', clientSecret, redirectUris: [`${gatewayUrl}/callback`] }],
  });

  stopLeftoverCoturn(dataDir, log);
  const turn =
    opts.turn !== false && existsSync('/usr/bin/turnserver')
      ? await startCoturn({ relayPorts: 64 })
      : null;
  if (turn) {
    const record = { pid: turn.pid, start: turn.pid && processStartTime(turn.pid), dir: turn.dir };
    writeFileSync(join(dataDir, COTURN_RECORD), `${JSON.stringify(record)}\n`, { mode: 0o600 });
  }
  if (!turn)
    log.child({ service: 'floe' }).warn('no coturn: streams go direct, without a TURN relay');
  const turnEnv = turn ? { FLOE_TURN_URLS: turn.url, FLOE_TURN_SECRET: turn.secret } : {};

  const control = await startControlPlane(
    loadControlConfig({
      ...process.env,
      FLOE_DATA_DIR: dataDir,
      ...(opts.databaseUrl && { DATABASE_URL: opts.databaseUrl }),
      FLOE_ADMIN_TOKEN: adminToken,
      // npm start runs sessions on this machine, sandboxed
      FLOE_LOCAL_CLUSTER: 'true',
      FLOE_GATEWAY_ISSUER: gatewayUrl,
      FLOE_GATEWAY_JWKS_URL: `${gatewayUrl}/.well-known/jwks.json`,
      // development mode: the dev identity provider is plain http on loopback
      FLOE_DEV_INSECURE_ISSUERS: 'on',
      ...turnEnv,
      ...opts.controlEnv,
    }),
    log.child({ service: 'floe-control' }),
  );
  const controlServer = await listen(control, '127.0.0.1', opts.controlPort);
  const controlUrl = `http://127.0.0.1:${controlServer.port}`;

  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(controlUrl + path, {
      method,
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await res.json().catch(() => null)) as { token?: string } | null;
    if (res.status >= 400 && res.status !== 404) {
      throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    }
    return { status: res.status, body: json };
  };

  // The demo tenant, its identity provider and apps; a restart finds them and refreshes the
  // provider (its port may have changed). On the gateway's own host a login hint picks the
  // tenant; tenants' own host names need DNS.
  if ((await api('GET', `/v1/tenants/${DEMO_TENANT}`)).status === 404) {
    await api('POST', '/v1/tenants', { slug: DEMO_TENANT, name: 'Acme (demo)' });
  }
  await api('PUT', `/v1/tenants/${DEMO_TENANT}/identity-provider`, {
    issuer: idp.issuer,
    clientId: 'floe-dev',
    clientSecret,
    rolesClaim: 'floe_roles',
    adminRoles: ['tenant-admin'],
  });
  for (const app of opts.apps ?? DEMO_APPS) {
    if ((await api('GET', `/v1/tenants/${DEMO_TENANT}/apps/${app.slug}`)).status === 404) {
      await api('POST', `/v1/tenants/${DEMO_TENANT}/apps`, app);
    }
  }
  const gatewayToken = await kept('dev-gateway-token', async () => {
    const created = await api('POST', '/v1/api-keys', {
      name: 'npm start gateway',
      role: 'gateway',
    });
    return String(created.body?.token);
  });

  const gateway = await startGateway(
    loadGatewayConfig({
      ...process.env,
      FLOE_GATEWAY_PORT: String(opts.port),
      FLOE_GATEWAY_METRICS_PORT: String(opts.metricsPort),
      FLOE_GATEWAY_METRICS_HOST: '127.0.0.1',
      FLOE_GATEWAY_ISSUER: gatewayUrl,
      FLOE_CONTROL_URL: controlUrl,
      FLOE_GATEWAY_CONTROL_TOKEN: gatewayToken,
      FLOE_GATEWAY_KEYS: keys,
      FLOE_GATEWAY_WEB_DIR: WEB_DIST,
      // development mode: the dev identity provider is plain http on loopback
      FLOE_DEV_INSECURE_ISSUERS: 'on',
      ...turnEnv,
    }),
    log.child({ service: 'floe-gateway' }),
    { onFatal: opts.onFatal },
  );

  return {
    url: `${gatewayUrl}/login?tenant=${DEMO_TENANT}`,
    gatewayUrl,
    metricsUrl: gateway.metricsUrl,
    controlUrl,
    users,
    adminToken,
    async close(closeOpts = {}) {
      await gateway.close();
      await controlServer.close();
      await control.close({ terminateSessions: closeOpts.terminateSessions ?? true });
      await turn?.stop();
      rmSync(join(dataDir, COTURN_RECORD), { force: true });
      await idp.stop();
    },
  };
}
