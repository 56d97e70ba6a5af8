// The gateway with everything it talks to, real, on loopback: an OpenID Provider
// (oidc-provider, the testbed's) with clients whose redirect URIs are this gateway's, a
// control plane on PGlite (in this process) that verifies the gateway's identity tokens
// against its JWKS, and tenants acme and globex, each with its identity provider. Sessions
// launch on a stand-in cluster (stand-in-driver.ts) whose endpoint is the stand-in echo
// server (echo-endpoint.ts).
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import type { LookupFunction } from 'node:net';
import { join } from 'node:path';
import {
  type ControlPlane,
  listen,
  loadConfig as loadControlConfig,
  startControlPlane,
} from '@floe/control';
import { freePort, type OidcProvider, startOidcProvider } from '@floe/testbed';
// the type of inject('testbed')
import type {} from '@floe/testbed/vitest-setup';
import type { JWK } from 'jose';
import { pino } from 'pino';
import { inject } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { generateKeySet } from '../../src/keys.ts';
import { type Gateway, startGateway } from '../../src/server.ts';
import { startEchoEndpoint } from './echo-endpoint.ts';
import { StandInDriver } from './stand-in-driver.ts';

export const ADMIN_TOKEN = 'gateway-test-platform-admin-token-0123';
export const ACME_HOST = 'acme.localhost';

export interface Stack {
  gateway: Gateway;
  /** the gateway's URL (its issuer: http://127.0.0.1:<port>) */
  url: string;
  /** the gateway as acme's own host name: http://acme.localhost:<port> */
  acmeUrl: string;
  op: OidcProvider;
  cp: ControlPlane;
  controlUrl: string;
  /** the control plane's data folder (a local session's output is in sessions/<id>.log) */
  dataDir: string;
  echo: Awaited<ReturnType<typeof startEchoEndpoint>>;
  /** the gateway's keys: [signing, previous] */
  keys: { current: JWK; previous: JWK };
  tenants: { acme: { id: string }; globex: { id: string } };
  /**
   * Another replica of the gateway: the same settings, keys and control plane on a port of
   * its own, serving the same public origin (`url`) as if behind one load balancer.
   */
  replica(): Promise<{ url: string; close(): Promise<void> }>;
  /** a control-plane request as the platform admin */
  admin(
    method: string,
    path: string,
    body?: unknown,
    // biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON came back
  ): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

/**
 * A built web app as web/build.ts lays it out (dist/app/index.html, app.js; dist/stream/
 * index.html, stream.js), in little.
 */
function fakeWebApp(root: string): string {
  const dist = mkdtempSync(join(root, 'gateway-web-'));
  mkdirSync(join(dist, 'app'));
  writeFileSync(
    join(dist, 'app', 'index.html'),
    '<!doctype html><title>Floe</title><script type="module" src="/app/app.js"></script>',
  );
  writeFileSync(join(dist, 'app', 'app.js'), 'document.title = "Floe launcher";\n');
  mkdirSync(join(dist, 'stream'));
  writeFileSync(
    join(dist, 'stream', 'index.html'),
    '<!doctype html><title>Floe stream</title><script type="module" src="stream.js"></script>',
  );
  writeFileSync(join(dist, 'stream', 'stream.js'), 'document.title = "Floe stream";\n');
  return dist;
}

export interface StackOptions {
  /** gateway settings beyond the defaults */
  env?: Record<string, string>;
  /** the gateway offers the testbed's coturn */
  turn?: boolean;
  /** a (tiny) built web app in FLOE_GATEWAY_WEB_DIR, or that folder */
  webApp?: boolean | string;
  /**
   * Sessions run for real on the control plane's local cluster: an X display, the app
   * (`command`) and the streamer, whose stream page is `streamPage` (a web/dist/stream).
   * TURN: the testbed's coturn.
   */
  streaming?: { command: string[]; streamPage: string };
  /** the provider rotates refresh tokens: each is good for one use, reuse revokes the grant */
  rotateRefreshTokens?: boolean;
  /** how the gateway resolves session endpoints' host names (default: the system's) */
  lookup?: LookupFunction;
  /** the endpoint of a session on the stand-in cluster (default: the echo endpoint's) */
  endpoint?: (sessionId: string) => string;
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const testbed = inject('testbed');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const acmeUrl = `http://${ACME_HOST}:${port}`;
  // The run's shared provider registers http://127.0.0.1/callback only (a fixed port), so
  // the gateway's tests run one of their own with this gateway's redirect URIs.
  const clients = ['acme', 'globex'].map((t) => ({
    clientId: `floe-gateway-${t}`,
    clientSecret: randomBytes(24).toString('base64url'),
    redirectUris: [`${url}/callback`, `http://${t}.localhost:${port}/callback`],
  }));
  const op = await startOidcProvider({ clients, rotateRefreshTokens: opts.rotateRefreshTokens });

  const dataDir = mkdtempSync(join(testbed.tempRoot, 'gateway-cp-'));
  const cp = await startControlPlane(
    loadControlConfig({
      FLOE_ADMIN_TOKEN: ADMIN_TOKEN,
      FLOE_DATA_DIR: dataDir,
      FLOE_LOCAL_CLUSTER: 'true',
      FLOE_LOCAL_STREAMING: opts.streaming ? 'on' : 'off',
      ...(opts.streaming && {
        FLOE_TURN_URLS: testbed.turn.url,
        FLOE_TURN_SECRET: testbed.turn.secret,
      }),
      FLOE_SECRET_KEY: randomBytes(32).toString('base64'),
      FLOE_GATEWAY_JWKS_URL: `${url}/.well-known/jwks.json`,
      FLOE_GATEWAY_ISSUER: url,
      // the testbed's provider is plain http on loopback
      FLOE_DEV_INSECURE_ISSUERS: 'on',
      // launches a minute per signed-in user, counted across the gateway's replicas
      FLOE_LAUNCHES_PER_USER_PER_MINUTE: '8',
      LOG_LEVEL: 'silent',
    }),
    pino({ level: 'silent' }),
  );
  const control = await listen(cp, '127.0.0.1', 0);
  const controlUrl = `http://127.0.0.1:${control.port}`;
  const admin: Stack['admin'] = async (method, path, body, token = ADMIN_TOKEN) => {
    const res = await fetch(controlUrl + path, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined && { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
  const must = async (method: string, path: string, body?: unknown) => {
    const r = await admin(method, path, body);
    if (r.status >= 300)
      throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };

  // sessions run on the stand-in cluster, the only one in the tenants' region
  const echo = await startEchoEndpoint();
  const cluster = await must('POST', '/v1/clusters', {
    name: 'stand-in',
    region: 'stand-in',
    driver: 'kubernetes',
  });
  const endpoint = opts.endpoint ?? ((id: string) => `${echo.url}/s/${id}/`);
  cp.supervisor.attach(cluster.id, new StandInDriver(endpoint));
  const tenants = {} as Stack['tenants'];
  for (const [i, slug] of (['acme', 'globex'] as const).entries()) {
    const tenant = await must('POST', '/v1/tenants', {
      slug,
      name: slug === 'acme' ? 'Acme' : 'Globex',
      allowedRegions: [opts.streaming ? 'local' : 'stand-in'],
    });
    tenants[slug] = { id: tenant.id };
    await must('POST', `/v1/tenants/${slug}/apps`, {
      slug: 'desktop',
      name: 'Desktop',
      // the local cluster runs the command; a kubernetes-driver one (the stand-in), the image
      command: opts.streaming?.command ?? ['sleep', '600'],
      image: 'floe/desktop:test',
      env: opts.streaming ? { FLOE_STREAMER_WEB_DIR: opts.streaming.streamPage } : {},
    });
    const client = clients[i]!;
    await must('PUT', `/v1/tenants/${slug}/identity-provider`, {
      issuer: op.issuer,
      clientId: client.clientId,
      clientSecret: client.clientSecret,
      rolesClaim: 'floe_roles',
      adminRoles: ['tenant-admin'],
      hostnames: [`${slug}.localhost`],
    });
  }
  const gatewayKey = await must('POST', '/v1/api-keys', { name: 'test gateway', role: 'gateway' });

  const [current, previous] = [
    (await generateKeySet()).keys[0]!,
    (await generateKeySet()).keys[0]!,
  ];
  const gatewayEnv = (gatewayPort: number) => ({
    FLOE_GATEWAY_PORT: String(gatewayPort),
    FLOE_GATEWAY_METRICS_PORT: '0',
    FLOE_GATEWAY_ISSUER: url,
    FLOE_CONTROL_URL: controlUrl,
    FLOE_GATEWAY_CONTROL_TOKEN: gatewayKey.token,
    FLOE_GATEWAY_KEYS: JSON.stringify({ keys: [current, previous] }),
    FLOE_GATEWAY_TENANT_CACHE_MS: '1000',
    FLOE_GATEWAY_BODY_LIMIT_BYTES: String(64 * 1024),
    // the testbed's provider is plain http on loopback
    FLOE_DEV_INSECURE_ISSUERS: 'on',
    ...(opts.turn && {
      FLOE_TURN_URLS: testbed.turn.url,
      FLOE_TURN_SECRET: testbed.turn.secret,
      FLOE_TURN_HEALTH_INTERVAL_MS: '60000',
    }),
    ...(opts.webApp && {
      FLOE_GATEWAY_WEB_DIR:
        typeof opts.webApp === 'string' ? opts.webApp : fakeWebApp(testbed.tempRoot),
    }),
    LOG_LEVEL: 'silent',
    ...opts.env,
  });
  const gatewayLog = pino({ level: process.env.GATEWAY_TEST_LOG ?? 'silent' });
  const gateway = await startGateway(loadConfig(gatewayEnv(port)), gatewayLog, {
    lookup: opts.lookup,
  });
  const replicas: Gateway[] = [];
  return {
    gateway,
    url,
    acmeUrl,
    op,
    cp,
    controlUrl,
    dataDir,
    echo,
    keys: { current, previous },
    tenants,
    admin,
    async replica() {
      const replicaPort = await freePort();
      const started = await startGateway(loadConfig(gatewayEnv(replicaPort)), gatewayLog, {
        lookup: opts.lookup,
      });
      replicas.push(started);
      return { url: `http://127.0.0.1:${replicaPort}`, close: () => started.close() };
    },
    async close() {
      for (const r of replicas) await r.close().catch(() => {});
      await gateway.close();
      await control.close();
      await cp.close({ terminateSessions: true });
      await echo.close();
      await op.stop();
    },
  };
}
