// What the scenarios run against, real and on loopback: PostgreSQL (the testbed's, or a
// database in a server given), N control-plane replicas on it (replica.ts, each its own
// process), an echo endpoint standing in for sessions' streamers, and, when a scenario goes
// through the gateway, the testbed's OpenID Provider and coturn and the gateway (its own
// process) signed into as a user with a running session. Seeded through the API: tenants,
// users, apps, an identity provider, API keys and ended sessions (for list and usage reads).
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { generateKeySet } from '@floe/gateway';
import {
  type Coturn,
  freePort,
  type OidcProvider,
  type Postgres,
  startCoturn,
  startOidcProvider,
  startPostgres,
} from '@floe/testbed';
import pg from 'pg';
import { call, json, signIn } from '../../gateway/test/helpers/users.ts';
import { forkNode, message, stopChild, until } from './processes.ts';
import type { Profile } from './profiles.ts';
import type { ReplicaMessage } from './replica.ts';

const REPO = join(import.meta.dirname, '..', '..');
export const TENANT = 'acme'; // the testbed's OIDC users (bob) belong to acme
export const APP = 'desktop';

export interface StackOptions {
  /** a folder for logs and data */
  dir: string;
  /** control-plane replicas on the one database */
  replicas: number;
  /** start the gateway, the identity provider and coturn */
  gateway: boolean;
  seed: Profile['seed'];
  /** a PostgreSQL server to make the database in (superuser URL); otherwise one is started */
  postgresUrl?: string;
  /** fsync on (a benchmark's numbers); tests' servers run without */
  durable?: boolean;
  log: (line: string) => void;
}

export interface Stack {
  /** every replica's base URL, in start order */
  controlUrls: string[];
  /** a tenant-admin API key of TENANT */
  token: string;
  /** TENANT's users the launches cycle over */
  users: string[];
  gateway: {
    url: string;
    cookie: string;
    origin: string;
    session: string;
    /** the session's endpoint (the echo server), for requests that bypass the gateway */
    endpoint: string;
  } | null;
  /** pids of the processes (replicas, gateway, endpoint), by name */
  pids: Record<string, number>;
  /** the control plane's database (a superuser URL) */
  databaseUrl: string;
  /** how many sessions are in each state now, read from the database */
  sessionStates(): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

// ---------------------------------------------------------------- the stack

/** The stop of every stack started and not stopped yet, from its first moment. */
const live = new Set<() => Promise<void>>();

/** Stops every stack of this process (a signal's handler: PostgreSQL outlives a plain exit). */
export async function stopStacks() {
  await Promise.allSettled([...live].map((stop) => stop()));
}

export async function startStack(o: StackOptions): Promise<Stack> {
  const children: ChildProcess[] = [];
  const cleanups: (() => unknown)[] = [];
  const pids: Record<string, number> = {};
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= teardown();
    return stopped;
  };
  live.add(stop);
  const teardown = async () => {
    live.delete(stop);
    await Promise.allSettled(children.reverse().map(stopChild));
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch (err) {
        o.log(`cleanup: ${(err as Error).message}`);
      }
    }
  };
  // whatever happens to this process, no child outlives it (short of SIGKILL)
  const killAll = () => {
    for (const c of children) c.kill('SIGKILL');
  };
  process.once('exit', killAll);
  cleanups.push(() => process.off('exit', killAll));

  try {
    // PostgreSQL: a database of our own, in a server we start or one we are given
    let databaseUrl: string;
    if (o.postgresUrl) {
      const name = `floe_loadtest_${randomBytes(6).toString('hex')}`;
      const admin = new pg.Client({ connectionString: o.postgresUrl });
      await admin.connect();
      await admin.query(`create database ${name}`);
      await admin.end();
      const url = new URL(o.postgresUrl);
      url.pathname = `/${name}`;
      databaseUrl = url.href;
      cleanups.push(async () => {
        const c = new pg.Client({ connectionString: o.postgresUrl });
        await c.connect();
        await c.query(`drop database if exists ${name} with (force)`);
        await c.end();
      });
    } else {
      o.log('starting PostgreSQL');
      const postgres: Postgres = await startPostgres({ durable: o.durable });
      cleanups.push(() => postgres.stop());
      databaseUrl = postgres.url;
    }

    const gatewayPort = await freePort();
    const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
    const adminToken = `loadtest-${randomBytes(16).toString('hex')}`;
    const controlEnv = {
      DATABASE_URL: databaseUrl,
      HOST: '127.0.0.1',
      PORT: '0',
      FLOE_DATA_DIR: join(o.dir, 'control'),
      FLOE_ADMIN_TOKEN: adminToken,
      // replicas sharing a database share the key
      FLOE_SECRET_KEY: randomBytes(32).toString('base64'),
      FLOE_GATEWAY_JWKS_URL: `${gatewayUrl}/.well-known/jwks.json`,
      FLOE_GATEWAY_ISSUER: gatewayUrl,
      FLOE_DEV_INSECURE_ISSUERS: 'on',
      FLOE_DB_POOL_SIZE: '10',
      // Each replica's stand-in knows only the sessions it launched itself; a resync would
      // find another replica's running ones absent and fail them as lost. Runs are minutes.
      FLOE_SESSION_RESYNC_MS: String(3_600_000),
      LOG_LEVEL: 'warn',
    };
    const startReplica = async (i: number) => {
      const child = forkNode(
        o.dir,
        `control-${i}`,
        join(import.meta.dirname, 'replica.ts'),
        [],
        controlEnv,
      );
      children.push(child);
      pids[`control-${i}`] = child.pid as number;
      const { port } = await message(child, 'listening', `control-plane replica ${i}`);
      return { child, url: `http://127.0.0.1:${port}` };
    };
    // the first applies the migrations alone; the others find them applied
    o.log(`starting ${o.replicas} control-plane replica(s)`);
    const first = await startReplica(0);
    const replicas = [
      first,
      ...(await Promise.all(Array.from({ length: o.replicas - 1 }, (_, i) => startReplica(i + 1)))),
    ];
    const controlUrls = replicas.map((r) => r.url);
    const api = async (method: string, path: string, body?: unknown, token = adminToken) => {
      const res = await fetch(controlUrls[0] + path, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body !== undefined && { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
      return text ? JSON.parse(text) : null;
    };

    // sessions' endpoint: a node:http + WebSocket echo server (the gateway benchmark's)
    const endpointPort = await freePort();
    const endpoint = forkNode(
      o.dir,
      'endpoint',
      join(REPO, 'gateway', 'bench', 'endpoint.ts'),
      [String(endpointPort), '1024'],
      {},
    );
    const endpointUrl = `http://127.0.0.1:${endpointPort}`;
    children.push(endpoint);
    pids.endpoint = endpoint.pid as number;
    await new Promise<void>((resolve, reject) => {
      endpoint.once('message', () => resolve());
      endpoint.once('exit', (code) => reject(new Error(`the echo endpoint exited (${code})`)));
    });

    o.log('seeding tenants, users, apps and keys');
    const cluster = await api('POST', '/v1/clusters', {
      name: 'stand-in',
      region: 'stand-in',
      driver: 'kubernetes',
    });
    await Promise.all(
      replicas.map(async (r, i) => {
        const attached = message(r.child, 'attached', `control-plane replica ${i}`);
        r.child.send({
          type: 'attach',
          clusterId: cluster.id,
          endpoint: endpointUrl,
        } satisfies ReplicaMessage);
        await attached;
      }),
    );
    const users: string[] = [];
    for (const slug of [TENANT, 'globex']) {
      await api('POST', '/v1/tenants', { slug, name: slug, allowedRegions: ['stand-in'] });
      await api('POST', `/v1/tenants/${slug}/apps`, {
        slug: APP,
        name: 'Desktop',
        command: ['sleep', '600'],
        image: 'floe/desktop:loadtest',
        env: {},
      });
      // globex: a tenant beside, whose rows every read of acme's must skip
      const count = slug === TENANT ? o.seed.users : Math.max(1, Math.ceil(o.seed.users / 10));
      for (let i = 0; i < count; i++) {
        const user = await api('POST', `/v1/tenants/${slug}/users`, {
          email: `user${i}@${slug}.loadtest`,
          role: 'member',
        });
        if (slug === TENANT) users.push(user.id);
      }
    }
    const { token } = await api('POST', `/v1/tenants/${TENANT}/api-keys`, {
      name: 'loadtest',
      role: 'tenant-admin',
    });
    await seedEndedSessions(api, users, o.seed.sessions);

    let gateway: Stack['gateway'] = null;
    if (o.gateway) {
      o.log('starting the identity provider, coturn and the gateway');
      const client = {
        clientId: 'floe-gateway-loadtest',
        clientSecret: randomBytes(24).toString('base64url'),
        redirectUris: [`${gatewayUrl}/callback`],
      };
      const op: OidcProvider = await startOidcProvider({ clients: [client] });
      cleanups.push(() => op.stop());
      const turn: Coturn = await startCoturn();
      cleanups.push(() => turn.stop());
      await api('PUT', `/v1/tenants/${TENANT}/identity-provider`, {
        issuer: op.issuer,
        clientId: client.clientId,
        clientSecret: client.clientSecret,
        rolesClaim: 'floe_roles',
        adminRoles: ['tenant-admin'],
      });
      const gatewayKey = await api('POST', '/v1/api-keys', {
        name: 'loadtest gateway',
        role: 'gateway',
      });
      const child = forkNode(o.dir, 'gateway', join(REPO, 'gateway', 'src', 'main.ts'), [], {
        FLOE_GATEWAY_PORT: String(gatewayPort),
        FLOE_GATEWAY_METRICS_PORT: String(await freePort()),
        FLOE_GATEWAY_HOST: '127.0.0.1',
        FLOE_GATEWAY_ISSUER: gatewayUrl,
        FLOE_CONTROL_URL: controlUrls[0],
        FLOE_GATEWAY_CONTROL_TOKEN: gatewayKey.token,
        FLOE_GATEWAY_KEYS: JSON.stringify(await generateKeySet()),
        FLOE_DEV_INSECURE_ISSUERS: 'on',
        FLOE_TURN_URLS: turn.url,
        FLOE_TURN_SECRET: turn.secret,
        FLOE_GATEWAY_WORKERS: '1',
        LOG_LEVEL: 'warn',
      });
      children.push(child);
      pids.gateway = child.pid as number;
      await until('the gateway', 30_000, async () =>
        (await fetch(`${gatewayUrl}/healthz`)).ok ? true : undefined,
      );
      // bob signs in through the provider's forms and launches a session
      const bob = await signIn(gatewayUrl, 'bob');
      const launched = await call(bob, gatewayUrl, 'POST', `/api/v1/tenants/${TENANT}/sessions`, {
        app: APP,
      });
      if (launched.status !== 201) throw new Error(`launch: ${launched.status} ${launched.body}`);
      const session = json(launched).id as string;
      await until('the gateway session', 15_000, async () => {
        const res = await call(
          bob,
          gatewayUrl,
          'GET',
          `/api/v1/tenants/${TENANT}/sessions/${session}`,
        );
        return json(res).state === 'running' ? true : undefined;
      });
      const cookie = bob.cookieHeader(gatewayUrl);
      // the TURN fleet probed healthy, so that every credential request gets servers
      await until('TURN servers offered', 20_000, async () => {
        const res = await fetch(`${gatewayUrl}/sessions/${session}/turn`, { headers: { cookie } });
        const offer = (await res.json()) as { iceServers: unknown[] };
        return offer.iceServers.length > 0 ? true : undefined;
      });
      gateway = { url: gatewayUrl, cookie, origin: gatewayUrl, session, endpoint: endpointUrl };
    }
    const sessionStates = async () => {
      const db = new pg.Client({ connectionString: databaseUrl });
      await db.connect();
      try {
        const { rows } = await db.query(
          'select state, count(*)::int as n from sessions group by state order by state',
        );
        return Object.fromEntries(rows.map((r) => [r.state as string, r.n as number]));
      } finally {
        await db.end();
      }
    };
    return { controlUrls, token, users, gateway, pids, databaseUrl, sessionStates, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Sessions launched and stopped before the run, so that lists and usage have rows to read. */
async function seedEndedSessions(
  api: (method: string, path: string, body?: unknown) => Promise<{ id: string }>,
  users: string[],
  count: number,
) {
  const base = `/v1/tenants/${TENANT}/sessions`;
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const s = await api('POST', base, { app: APP, user: users[i % users.length] });
      await api('DELETE', `${base}/${s.id}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}
