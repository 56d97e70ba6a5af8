// Auditing of API writes: every request gets an audit scope (who, from where, a request
// id); a write route records its entry with `audit(c, tx, …)` in the transaction of its
// change. A write that answers 2xx/3xx without an entry is logged as a bug (and the test
// test/audit-coverage.test.ts calls every write route of the OpenAPI document).
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context, MiddlewareHandler } from 'hono';
import type { Logger } from 'pino';
import { v4 as uuidv4 } from 'uuid';
import {
  type AuditActor,
  type AuditInput,
  type RequestOrigin,
  recordAudit,
} from '../audit/record.ts';
import type { Db, Tx } from '../db/connect.ts';
import type { AppEnv, Credential, Principal } from './auth.ts';

/**
 * Headers the gateway sets when it forwards a user's request (gateway/src/routes/api.ts):
 * believed only beside a gateway identity token, which only a gateway can sign; from
 * anyone else they are ignored.
 */
export const FORWARDED = {
  clientIp: 'x-floe-client-ip',
  userAgent: 'x-floe-user-agent',
  requestId: 'x-floe-request-id',
} as const;

const MAX_HEADER_CHARS = 512;
const clip = (v: string | undefined) => (v === undefined ? null : v.slice(0, MAX_HEADER_CHARS));

export interface AuditScope {
  actor: AuditActor;
  origin: RequestOrigin;
  /** set once the route recorded its entry, or said it changed nothing */
  recorded: boolean;
}

export function actorOf(p: Principal): AuditActor {
  switch (p.via) {
    case 'admin-token':
      return { type: 'admin-token', id: null, role: p.role, tenantId: null };
    case 'api-key':
      return { type: 'api-key', id: p.keyId, role: p.role, tenantId: p.tenantId };
    case 'identity-token':
      return { type: 'user', id: p.userId, role: p.role, tenantId: p.tenantId };
  }
}

/** Where the request came from: as the gateway saw it, when it came through one. */
export function requestOrigin(c: Context, via: Credential): RequestOrigin {
  const gateway = via === 'identity-token';
  const forwarded = (name: string) => (gateway ? c.req.header(name) : undefined);
  let peer: string | undefined;
  try {
    peer = getConnInfo(c).remote.address;
  } catch {
    peer = undefined; // not served by @hono/node-server (app.request in tests)
  }
  return {
    requestId: clip(forwarded(FORWARDED.requestId)) ?? uuidv4(),
    sourceIp: clip(forwarded(FORWARDED.clientIp) ?? peer),
    userAgent: clip(forwarded(FORWARDED.userAgent) ?? c.req.header('user-agent')),
  };
}

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Opens each request's audit scope (after authentication); flags writes left unaudited. */
export function auditScope(log: Logger): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const principal = c.get('principal');
    const scope: AuditScope = {
      actor: actorOf(principal),
      origin: requestOrigin(c, principal.via),
      recorded: false,
    };
    c.set('audit', scope);
    c.header('X-Request-Id', scope.origin.requestId ?? undefined);
    await next();
    if (WRITES.has(c.req.method) && c.res.status < 400 && !scope.recorded) {
      log.error(
        { method: c.req.method, route: c.req.routePath, requestId: scope.origin.requestId },
        'a write answered without an audit entry',
      );
    }
  };
}

/** Records the route's audit entry in `tx`, the transaction of its change. */
export async function audit(
  c: Context<AppEnv>,
  tx: Tx | Db,
  entry: Omit<AuditInput, 'actor' | 'origin'>,
): Promise<void> {
  const scope = c.get('audit');
  await recordAudit(tx, { ...entry, actor: scope.actor, origin: scope.origin });
  scope.recorded = true;
}

/**
 * The route's audit entry as data, for a change that writes it in its own statement
 * (admission: `floe_admit_session` writes it with the session). Written only if the change
 * is: a refused change answers 4xx, and a replay says `unchanged`.
 */
export function auditEntry(
  c: Context<AppEnv>,
  entry: Omit<AuditInput, 'actor' | 'origin'>,
): AuditInput {
  const scope = c.get('audit');
  scope.recorded = true;
  return { ...entry, actor: scope.actor, origin: scope.origin };
}

/** Says a write request changed nothing (an idempotent replay, a stop of an ended session). */
export function unchanged(c: Context<AppEnv>): void {
  c.get('audit').recorded = true;
}
