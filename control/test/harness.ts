// Starts real control planes for tests: on PGlite (in memory or in a folder) and on the
// run's PostgreSQL server, each in a database of its own.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive } from '@floe/testbed';
// the type of inject('testbed')
import type {} from '@floe/testbed/vitest-setup';
import pg from 'pg';
import { inject } from 'vitest';
import { loadConfig } from '../src/config.ts';
import {
  type ControlPlane,
  type ControlPlaneInternals,
  listen,
  startControlPlane,
} from '../src/control-plane.ts';
import { createLogger } from '../src/log.ts';

export const DATABASES = ['pglite', 'postgres'] as const;
export type DatabaseKind = (typeof DATABASES)[number];

export const ADMIN_TOKEN = 'test-platform-admin-token-0123456789';

/** A fresh, empty database of the given kind, as control-plane settings. */
export async function freshDatabase(kind: DatabaseKind): Promise<Record<string, string>> {
  const { tempRoot, postgresUrl } = inject('testbed');
  const dataDir = mkdtempSync(join(tempRoot, 'cp-'));
  if (kind === 'pglite') return { FLOE_DATA_DIR: dataDir };
  const name = `floe_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client(postgresUrl);
  await client.connect();
  await client.query(`create database ${name}`);
  await client.end();
  const url = new URL(postgresUrl);
  url.pathname = `/${name}`;
  return { FLOE_DATA_DIR: dataDir, DATABASE_URL: url.toString() };
}

export interface TestControlPlane {
  cp: ControlPlane;
  url: string;
  /** a request as the platform admin, or with `token` */
  call(
    method: string,
    path: string,
    opts?: { body?: unknown; token?: string | null; headers?: Record<string, string> },
    // biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON came back
  ): Promise<{ status: number; body: any; headers: Headers }>;
  close(opts?: { keepSessions?: boolean }): Promise<void>;
}

export async function startTestControlPlane(
  env: Record<string, string | undefined>,
  internals: ControlPlaneInternals = {},
): Promise<TestControlPlane> {
  const config = loadConfig({
    FLOE_ADMIN_TOKEN: ADMIN_TOKEN,
    FLOE_DB_POOL_SIZE: '20',
    FLOE_LOCAL_STREAMING: 'off',
    FLOE_LOCAL_CLUSTER: 'true',
    // tests write months long past: nothing closes them but the test itself
    FLOE_BILLING_AUTO_CLOSE_HOURS: 'off',
    ...env,
  });
  const cp = await startControlPlane(config, createLogger('silent'), internals);
  const server = await listen(cp, '127.0.0.1', 0);
  const url = `http://127.0.0.1:${server.port}`;
  return {
    cp,
    url,
    async call(method, path, opts = {}) {
      const token = opts.token === undefined ? ADMIN_TOKEN : opts.token;
      const res = await fetch(url + path, {
        method,
        headers: {
          ...(opts.body !== undefined && { 'content-type': 'application/json' }),
          ...(token !== null && { authorization: `Bearer ${token}` }),
          ...opts.headers,
        },
        body:
          opts.body === undefined
            ? undefined
            : typeof opts.body === 'string'
              ? opts.body
              : JSON.stringify(opts.body),
      });
      const text = await res.text();
      let body: unknown = text;
      try {
        body = text ? JSON.parse(text) : null;
      } catch {}
      return { status: res.status, body, headers: res.headers };
    },
    async close(opts = {}) {
      await server.close();
      await cp.close({ terminateSessions: !opts.keepSessions });
    },
  };
}

/** Polls `check` until it returns a truthy value (or throws after `ms`). */
export async function eventually<T>(check: () => Promise<T | undefined | false>, ms = 10_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Creates a tenant with one member user and one app, returning their ids and slugs. */
export async function seedTenant(
  t: TestControlPlane,
  opts: {
    slug: string;
    quotas?: Record<string, number | null>;
    userLimits?: Record<string, number | null>;
    app?: Record<string, unknown>;
  },
) {
  const tenant = await t.call('POST', '/v1/tenants', {
    body: { slug: opts.slug, name: opts.slug.toUpperCase(), quotas: opts.quotas },
  });
  if (tenant.status !== 201) throw new Error(`tenant: ${JSON.stringify(tenant.body)}`);
  const user = await t.call('POST', `/v1/tenants/${opts.slug}/users`, {
    body: { email: `user@${opts.slug}.test`, role: 'member', limits: opts.userLimits },
  });
  if (user.status !== 201) throw new Error(`user: ${JSON.stringify(user.body)}`);
  const app = await t.call('POST', `/v1/tenants/${opts.slug}/apps`, {
    body: { slug: 'sleeper', name: 'Sleeper', command: ['sleep', '300'], ...opts.app },
  });
  if (app.status !== 201) throw new Error(`app: ${JSON.stringify(app.body)}`);
  return { tenant: tenant.body, user: user.body, app: app.body };
}

/** pids of processes whose environment names the session (the app and its children) */
export function processesOf(sessionId: string): number[] {
  const out = execFileSync(
    'sh',
    ['-c', `grep -l "FLOE_SESSION_ID=${sessionId}" /proc/[0-9]*/environ 2>/dev/null || true`],
    {
      encoding: 'utf8',
    },
  );
  return out
    .split('\n')
    .filter(Boolean)
    .map((p) => Number(p.split('/')[2]))
    .filter(isAlive);
}

export interface ServerSentEvent {
  event: string;
  data: string;
}

/**
 * Opens a server-sent event stream (real HTTP) and reads it event by event; comment lines
 * (heartbeats) are collected in `comments`. `next` resolves null when the stream ends.
 */
export async function openEventStream(url: string, token: string) {
  const aborter = new AbortController();
  const res = await fetch(url, {
    headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
    signal: aborter.signal,
  });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const comments: string[] = [];
  let buffer = '';
  let done = false;
  async function next(ms = 15_000): Promise<ServerSentEvent | null> {
    const deadline = Date.now() + ms;
    for (;;) {
      const end = buffer.indexOf('\n\n');
      if (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const lines = block.split('\n');
        comments.push(...lines.filter((l) => l.startsWith(':')));
        const field = (name: string) =>
          lines.filter((l) => l.startsWith(`${name}: `)).map((l) => l.slice(name.length + 2));
        if (field('data').length === 0) continue;
        return { event: field('event')[0] ?? 'message', data: field('data').join('\n') };
      }
      if (done) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no event in time');
      let timer: NodeJS.Timeout | undefined;
      const chunk = await Promise.race([
        reader.read(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('no event in time')), left);
        }),
      ]).finally(() => clearTimeout(timer));
      if (chunk.done) done = true;
      else buffer += decoder.decode(chunk.value, { stream: true });
    }
  }
  return {
    status: res.status,
    headers: res.headers,
    comments,
    next,
    /** the client goes away */
    close: () => aborter.abort(),
  };
}
