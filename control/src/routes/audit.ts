import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { stream } from 'hono/streaming';
import { presentAudit } from '../audit/present.ts';
import { type AuditFilter, auditEntries, auditPage } from '../audit/query.ts';
import type { Db } from '../db/connect.ts';
import {
  AuditEntry,
  AuditFilterQuery,
  AuditListQuery,
  PlatformAuditFilterQuery,
  PlatformAuditListQuery,
} from '../http/audit-schemas.ts';
import { type AppEnv, requireRole } from '../http/auth.ts';
import { badRequest } from '../http/errors.ts';
import { pageOf } from '../http/paginate.ts';
import { apiRoute, json, params, router } from '../http/route.ts';
import { page } from '../http/schemas.ts';

const tags = ['audit'];
const JSONL = 'application/jsonl';

type FilterInput = z.infer<typeof AuditFilterQuery>;

function filterOf(tenantId: string | null, q: FilterInput): AuditFilter {
  const since = q.since ? new Date(q.since) : undefined;
  const until = q.until ? new Date(q.until) : undefined;
  if (since && until && since >= until) throw badRequest('"since" must be before "until"');
  return { ...q, tenantId, since, until };
}

const jsonlResponse = {
  description: 'one AuditEntry per line, newest first (JSON Lines)',
  content: { [JSONL]: { schema: z.string() } },
};

/** Streams the entries as JSON Lines, a batch at a time. */
function exportJsonl(c: Context<AppEnv>, db: Db, filter: AuditFilter, name: string) {
  c.header('Content-Type', `${JSONL}; charset=utf-8`);
  c.header('Content-Disposition', `attachment; filename="${name}"`);
  return stream(c, async (out) => {
    let lines = '';
    for await (const row of auditEntries(db, filter)) {
      lines += `${JSON.stringify(presentAudit(row))}\n`;
      if (lines.length >= 64 * 1024) {
        await out.write(lines);
        lines = '';
      }
      if (out.aborted) return;
    }
    if (lines) await out.write(lines);
  });
}

const day = () => new Date().toISOString().slice(0, 10);

export function auditRoutes(db: Db) {
  const app = router();
  const admins = [requireRole('platform-admin', 'tenant-admin')];
  const platform = [requireRole('platform-admin')];

  app.openapi(
    apiRoute({
      method: 'get',
      path: '/v1/tenants/{tenant}/audit-log',
      tags,
      summary: 'The tenant’s audit log, newest first (tenant-admin)',
      middleware: admins,
      request: { params: params('tenant'), query: AuditListQuery },
      responses: { 200: json(page(AuditEntry, 'AuditPage'), 'entries') },
    }),
    async (c) => {
      const { limit, cursor, ...q } = c.req.valid('query');
      const rows = await auditPage(db, filterOf(c.get('tenant').id, q), limit, cursor);
      return c.json(pageOf(rows, limit, presentAudit), 200);
    },
  );

  app.openapi(
    apiRoute({
      method: 'get',
      path: '/v1/tenants/{tenant}/audit-log/export',
      tags,
      summary: 'Export the tenant’s audit log as JSON Lines (tenant-admin)',
      middleware: admins,
      request: { params: params('tenant'), query: AuditFilterQuery },
      responses: { 200: jsonlResponse },
    }),
    (c) => {
      const tenant = c.get('tenant');
      const filter = filterOf(tenant.id, c.req.valid('query'));
      return exportJsonl(c, db, filter, `audit-${tenant.slug}-${day()}.jsonl`) as never;
    },
  );

  app.openapi(
    apiRoute({
      method: 'get',
      path: '/v1/audit-log',
      tags,
      summary: 'Every tenant’s and the platform’s audit log, newest first (platform-admin)',
      middleware: platform,
      request: { query: PlatformAuditListQuery },
      responses: { 200: json(page(AuditEntry, 'PlatformAuditPage'), 'entries') },
    }),
    async (c) => {
      const { limit, cursor, tenant, ...q } = c.req.valid('query');
      const rows = await auditPage(db, filterOf(tenant ?? null, q), limit, cursor);
      return c.json(pageOf(rows, limit, presentAudit), 200);
    },
  );

  app.openapi(
    apiRoute({
      method: 'get',
      path: '/v1/audit-log/export',
      tags,
      summary: 'Export the platform-wide audit log as JSON Lines (platform-admin)',
      middleware: platform,
      request: { query: PlatformAuditFilterQuery },
      responses: { 200: jsonlResponse },
    }),
    (c) => {
      const { tenant, ...q } = c.req.valid('query');
      return exportJsonl(c, db, filterOf(tenant ?? null, q), `audit-${day()}.jsonl`) as never;
    },
  );

  return app;
}
