import { createHash } from 'node:crypto';
import { z } from '@hono/zod-openapi';
import { and, asc, desc, eq, inArray, type SQL } from 'drizzle-orm';
import { streamSSE } from 'hono/streaming';
import type { Logger } from 'pino';
import type { Db } from '../db/connect.ts';
import { sessionEvents, sessionIsActive, sessions } from '../db/schema.ts';
import { isTerminal, SESSION_STATES, type SessionState } from '../domain/session-states.ts';
import { STOP_REASONS } from '../domain/stop-reasons.ts';
import { auditEntry, unchanged } from '../http/audit.ts';
import type { Principal } from '../http/auth.ts';
import { badRequest, ErrorSchema, forbidden, notFound } from '../http/errors.ts';
import { afterCursor, pageOf } from '../http/paginate.ts';
import { presentSession } from '../http/present.ts';
import { apiRoute, body, json, params, retryAfter, router } from '../http/route.ts';
import { page, Session, SessionCreate, SessionListQuery } from '../http/schemas.ts';
import { isUuid, type Lookups } from '../lookups.ts';
import type { Metrics } from '../metrics.ts';
import { admitLaunch, type LiveCapacity, type SessionRow } from '../sessions/admission.ts';
import type { SessionHandoff } from '../sessions/handoff.ts';
import { type LaunchRate, takeLaunch } from '../sessions/launch-rate.ts';
import type { SessionWatch } from '../sessions/watch.ts';

const tags = ['sessions'];

/** Members see and act on their own sessions only; admins on all of the tenant's. */
function ownerFilter(principal: Principal): SQL | undefined {
  return principal.role === 'member' ? eq(sessions.userId, principal.userId ?? '') : undefined;
}

function parseStates(filter: string | undefined): SessionState[] | 'active' | undefined {
  if (!filter) return undefined;
  if (filter === 'active') return 'active';
  const states = filter.split(',').filter(Boolean);
  const unknown = states.filter((s) => !(SESSION_STATES as readonly string[]).includes(s));
  if (unknown.length > 0) {
    throw badRequest(
      `unknown state ${unknown.join(', ')}; use ${SESSION_STATES.join(', ')} or active`,
    );
  }
  return states as SessionState[];
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

// Launch progress (server-sent events): transitions any replica records arrive through the
// bus (sessions/watch.ts); a comment line every HEARTBEAT_MS keeps idle proxies open.
const HEARTBEAT_MS = 15_000;
// a session mostly moves forward in this order (domain/lifecycle.ts); `unknown` and back
// is the exception, which the row's updatedAt tells apart from an older read
const RANK = new Map<SessionState, number>(SESSION_STATES.map((s, i) => [s, i]));

export function sessionRoutes(deps: {
  db: Db;
  lookups: Lookups;
  /** what each cluster's driver sees now (admission) */
  capacityOf: LiveCapacity;
  /** session rows as any replica changes them */
  sessionWatch: Pick<SessionWatch, 'watchSession'>;
  /** stops, handed to the replica that drives the session's cluster */
  handoff: Pick<SessionHandoff, 'launch' | 'terminate'>;
  metrics: Metrics;
  log: Logger;
  /** aborted when the control plane shuts down: progress streams end */
  shutdown: AbortSignal;
  /** launches per user signed in through a gateway; null or absent: no limit */
  launchRate?: LaunchRate | null;
}) {
  const { db, lookups, capacityOf, sessionWatch, handoff, metrics, log, shutdown } = deps;
  const app = router();
  const one = params('tenant', 'session');

  async function load(tenantId: string, principal: Principal, id: string) {
    if (!isUuid(id)) throw notFound('session');
    const [row] = await db
      .select()
      .from(sessions)
      .where(and(eq(sessions.id, id), eq(sessions.tenantId, tenantId), ownerFilter(principal)));
    if (!row) throw notFound('session');
    return row;
  }

  app.openapi(
    apiRoute({
      method: 'post',
      path: '/v1/tenants/{tenant}/sessions',
      tags,
      summary: 'Launch a session',
      description:
        'Answers once the session is recorded, counted against its quotas and placed; the ' +
        'cluster starts it asynchronously. With an `Idempotency-Key` header a retried request ' +
        'returns the session of the first one (200) instead of launching another.',
      request: { params: params('tenant'), body: body(SessionCreate) },
      responses: {
        200: json(Session, 'the session of an earlier request with the same Idempotency-Key'),
        201: json(Session, 'admitted and placed'),
        422: json(ErrorSchema, 'no cluster can run it, or the Idempotency-Key was reused'),
        429: {
          ...json(
            ErrorSchema,
            'a quota refused it (`error.quota` names which), or its user launched too often ' +
              '(`rate_limited`: users signed in through a gateway)',
          ),
          headers: retryAfter(
            'seconds until the quota or the rate may allow it (the 1st of next month for GPU-hours)',
          ),
        },
        503: {
          ...json(ErrorSchema, 'every eligible cluster is full'),
          headers: retryAfter('seconds after which to try again'),
        },
      },
    }),
    async (c) => {
      const input = c.req.valid('json');
      const tenant = c.get('tenant');
      const principal = c.get('principal');
      const key = c.req.header('idempotency-key');
      if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) {
        throw badRequest('Idempotency-Key must be 1–255 visible ASCII characters');
      }
      const userRef = input.user ?? principal.userId;
      if (!userRef) throw badRequest('name the user the session is for ("user")');
      const user = await lookups.user(tenant.id, userRef);
      if (!user) throw notFound('user');
      if (principal.role === 'member' && user.id !== principal.userId) {
        throw forbidden('members launch sessions for themselves only');
      }
      const appRow = await lookups.app(tenant.id, input.app);
      if (!appRow) throw notFound('app');
      if (principal.via === 'identity-token' && deps.launchRate) {
        await takeLaunch(db, user.id, deps.launchRate).catch((err) => {
          metrics.launches.inc({ outcome: 'rate_limited' });
          throw err;
        });
      }
      const requestHash = createHash('sha256')
        .update(JSON.stringify([appRow.id, user.id, input.region ?? null]))
        .digest('base64url');
      const { session, created } = await admitLaunch(db, lookups, capacityOf, {
        tenant,
        app: appRow,
        user,
        preferredRegion: input.region,
        idempotencyKey: key,
        requestHash,
        audit: (session) =>
          auditEntry(c, {
            tenantId: tenant.id,
            action: 'session.launch',
            target: { type: 'session', id: session.id },
            diff: {
              user: { from: null, to: session.userId },
              app: { from: null, to: session.appId },
              cluster: { from: null, to: session.clusterId },
            },
          }),
      }).catch((err) => {
        metrics.launches.inc({ outcome: err?.code ?? 'error' });
        throw err;
      });
      if (!created) {
        unchanged(c); // the first request's launch, audited then
        c.header('Idempotent-Replayed', 'true');
        return c.json(presentSession(session), 200);
      }
      metrics.launches.inc({ outcome: 'admitted' });
      // here, or by the replica that drives its cluster, told by the bus (sessions/handoff.ts)
      handoff.launch(session);
      c.header('Location', `/v1/tenants/${tenant.slug}/sessions/${session.id}`);
      return c.json(presentSession(session), 201);
    },
  );

  app.openapi(
    apiRoute({
      method: 'get',
      path: '/v1/tenants/{tenant}/sessions',
      tags,
      summary: 'List sessions, newest first',
      request: { params: params('tenant'), query: SessionListQuery },
      responses: { 200: json(page(Session, 'SessionPage'), 'sessions') },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const states = parseStates(q.state);
      const rows = await db
        .select()
        .from(sessions)
        .where(
          and(
            eq(sessions.tenantId, c.get('tenant').id),
            ownerFilter(c.get('principal')),
            states === 'active' ? sessionIsActive() : states && inArray(sessions.state, states),
            q.user ? eq(sessions.userId, q.user) : undefined,
            q.app ? eq(sessions.appId, q.app) : undefined,
            q.cluster ? eq(sessions.clusterId, q.cluster) : undefined,
            afterCursor(sessions.id, q.cursor),
          ),
        )
        .orderBy(desc(sessions.id))
        .limit(q.limit + 1);
      return c.json(
        pageOf(rows, q.limit, (s) => presentSession(s)),
        200,
      );
    },
  );

  app.openapi(
    apiRoute({
      method: 'get',
      path: '/v1/tenants/{tenant}/sessions/{session}',
      tags,
      summary: 'Get a session with its lifecycle events',
      request: { params: one },
      responses: { 200: json(Session, 'the session') },
    }),
    async (c) => {
      const row = await load(c.get('tenant').id, c.get('principal'), c.req.valid('param').session);
      const events = await db
        .select()
        .from(sessionEvents)
        .where(eq(sessionEvents.sessionId, row.id))
        .orderBy(asc(sessionEvents.id));
      return c.json(presentSession(row, events), 200);
    },
  );

  app.openapi(
    apiRoute({
      method: 'get',
      path: '/v1/tenants/{tenant}/sessions/{session}/progress',
      tags,
      summary: 'Follow a session’s launch as server-sent events, until it ends',
      description:
        'A `session` event with the session (as in the list, without `events`) at once, then ' +
        'one per state change; after `stopped` or `failed`, an `end` event (data: id and ' +
        'state) and the stream closes. A comment line every 15 s keeps idle proxies open.',
      request: { params: one },
      responses: {
        200: {
          description: 'the event stream',
          content: { 'text/event-stream': { schema: z.string() } },
        },
      },
    }),
    async (c) => {
      const first = await load(
        c.get('tenant').id,
        c.get('principal'),
        c.req.valid('param').session,
      );
      const request = c.req.raw.signal;
      c.header('X-Accel-Buffering', 'no'); // nginx and friends: do not buffer the stream
      const response = streamSSE(c, async (stream) => {
        const pending: SessionRow[] = [];
        let wake: (() => void) | null = null;
        const poke = () => {
          const w = wake;
          wake = null;
          w?.();
        };
        const unwatch = sessionWatch.watchSession(first.id, (row) => {
          pending.push(row);
          poke();
        });
        stream.onAbort(poke);
        shutdown.addEventListener('abort', poke);
        request.addEventListener('abort', poke);
        const over = () => stream.aborted || shutdown.aborted || request.aborted;
        const read = async () =>
          (await db.select().from(sessions).where(eq(sessions.id, first.id)))[0];
        let sent: SessionState | null = null;
        let sentAt = 0;
        let lastWrite = Date.now();
        const send = async (row: SessionRow) => {
          const at = row.updatedAt.getTime();
          if (sent !== null) {
            if (at < sentAt) return; // an older read than what was sent
            const later = at > sentAt && row.state !== sent;
            if (!later && (RANK.get(row.state) ?? 0) <= (RANK.get(sent) ?? 0)) return;
          }
          sent = row.state;
          sentAt = at;
          await stream.writeSSE({ event: 'session', data: JSON.stringify(presentSession(row)) });
          lastWrite = Date.now();
        };
        try {
          // read after subscribing, so that no transition falls in between
          await send((await read()) ?? first);
          while (!over()) {
            while (pending.length > 0) await send(pending.shift()!);
            if (sent && isTerminal(sent)) {
              await stream.writeSSE({
                event: 'end',
                data: JSON.stringify({ id: first.id, state: sent }),
              });
              return;
            }
            await new Promise<void>((resolve) => {
              // woken by a change, the end, or the next heartbeat
              const timer = setTimeout(poke, HEARTBEAT_MS - (Date.now() - lastWrite));
              wake = () => {
                clearTimeout(timer);
                resolve();
              };
              if (pending.length > 0 || over()) poke();
            });
            if (over()) return;
            if (Date.now() - lastWrite >= HEARTBEAT_MS) {
              await stream.write(': heartbeat\n\n');
              lastWrite = Date.now();
            }
          }
        } catch (err) {
          log.error({ err, sessionId: first.id }, 'session progress stream failed');
          if (!over()) {
            await stream.writeSSE({
              event: 'error',
              data: JSON.stringify({ message: 'internal error' }),
            });
          }
        } finally {
          unwatch();
          shutdown.removeEventListener('abort', poke);
          request.removeEventListener('abort', poke);
        }
      });
      // not kept alive once the stream ends: a shutdown need not wait for the socket's timeout
      response.headers.set('Connection', 'close');
      return response;
    },
  );

  app.openapi(
    apiRoute({
      method: 'delete',
      path: '/v1/tenants/{tenant}/sessions/{session}',
      tags,
      summary: 'Stop a session',
      description: 'Answers 202 while it stops; stopping a stopped session is a no-op (200).',
      request: { params: one },
      responses: {
        200: json(Session, 'already ended'),
        202: json(Session, 'stopping'),
      },
    }),
    async (c) => {
      const principal = c.get('principal');
      const row = await load(c.get('tenant').id, principal, c.req.valid('param').session);
      const by = principal.userId === row.userId ? STOP_REASONS.user : STOP_REASONS.admin;
      const scope = c.get('audit');
      const stopping = await handoff.terminate(row.id, by, {
        actor: scope.actor,
        origin: scope.origin,
        action: 'session.stop',
      });
      if (stopping) {
        scope.recorded = true;
        return c.json(presentSession(stopping), 202);
      }
      unchanged(c); // already stopping or ended: nothing changed
      const [now] = await db.select().from(sessions).where(eq(sessions.id, row.id));
      const current = now ?? row;
      return c.json(presentSession(current), current.state === 'stopping' ? 202 : 200);
    },
  );

  return app;
}
