import { createHash } from 'node:crypto';
import { z } from '@hono/zod-openapi';
import { asc } from 'drizzle-orm';
import type { Context } from 'hono';
import { UsageExportRow } from '../billing/export/columns.ts';
import { copyCsvStream } from '../billing/export/copy-csv.ts';
import { CONTENT_TYPES, encoder, type Format } from '../billing/export/encode.ts';
import { parquetStream } from '../billing/export/parquet.ts';
import { type ExportPart, exportBatches, exportStream } from '../billing/export/read.ts';
import type { PeriodRow } from '../billing/usage-records.ts';
import type { Db } from '../db/connect.ts';
import { tenants } from '../db/schema.ts';
import { type AppEnv, requireRole } from '../http/auth.ts';
import { ExportQuery } from '../http/billing-schemas.ts';
import { notFound } from '../http/errors.ts';
import { apiRoute, params, router } from '../http/route.ts';
import { refreshedPeriods } from './billing.ts';

const tags = ['billing'];

/** bumped whenever an export's bytes would change for the same records (columns, encoding) */
// 2: a lone CR or LF in a CSV field is quoted; 3: app_class, Parquet by parquet-wasm
const EXPORT_VERSION = 3;

type Query = z.infer<typeof ExportQuery>;

/** The parts of one tenant's export: its period named, or its periods meeting the range. */
function partsOf(
  tenant: { id: string; slug: string },
  periods: PeriodRow[],
  q: Query,
): { parts: ExportPart[]; periods: PeriodRow[] } {
  const labels = new Map(periods.map((p) => [p.id, p.label]));
  const from = q.from ? new Date(q.from) : undefined;
  const to = q.to ? new Date(q.to) : undefined;
  const chosen = q.period
    ? periods.filter((p) => p.label === q.period)
    : periods.filter((p) => p.startsAt < (to as Date) && p.endsAt > (from as Date));
  return {
    periods: chosen,
    parts: chosen.map((p) => ({
      tenantId: tenant.id,
      tenantSlug: tenant.slug,
      periodId: p.id,
      label: p.label,
      start: p.startsAt,
      end: p.endsAt,
      labels,
      from,
      to,
    })),
  };
}

/**
 * An export can never change once every period in it is closed and (for a range) no later
 * period could still add to it: then it has an ETag, which names those periods and the query.
 */
export function exportEtag(scope: string, q: Query, periods: PeriodRow[]): string | null {
  if (periods.length === 0 || periods.some((p) => p.state !== 'closed')) return null;
  if (q.to && Math.max(...periods.map((p) => p.endsAt.getTime())) < Date.parse(q.to)) return null;
  const hash = createHash('sha256')
    .update(
      JSON.stringify([
        EXPORT_VERSION,
        scope,
        q.format,
        q.period ?? null,
        q.from ? Date.parse(q.from) : null,
        q.to ? Date.parse(q.to) : null,
        periods.map((p) => [p.id, p.closedAt?.getTime()]),
      ]),
    )
    .digest('base64url');
  return `"${hash.slice(0, 32)}"`;
}

const EXTENSIONS: Record<Format, string> = { csv: 'csv', jsonl: 'jsonl', parquet: 'parquet' };

function respond(
  c: Context<AppEnv>,
  db: Db,
  o: { name: string; q: Query; parts: ExportPart[]; etag: string | null },
) {
  const headers: Record<string, string> = { 'Cache-Control': 'private, no-cache' };
  if (o.etag) {
    headers.ETag = o.etag;
    const match = c.req.header('if-none-match');
    if (match?.split(',').some((t) => t.trim() === o.etag || t.trim() === '*')) {
      return c.body(null, 304, headers);
    }
  }
  const span = o.q.period ?? `${o.q.from}_${o.q.to}`.replace(/[:]/g, '');
  const filename = `floe-usage-${o.name}-${span}.${EXTENSIONS[o.q.format]}`;
  headers['Content-Type'] = CONTENT_TYPES[o.q.format];
  headers['Content-Disposition'] = `attachment; filename="${filename}"`;
  headers['X-Content-Type-Options'] = 'nosniff';
  return c.body(exportBody(db, o.parts, o.q.format), 200, headers);
}

/**
 * CSV is written by the database's COPY (copy-csv.ts), Parquet from its binary COPY
 * (parquet.ts), JSON Lines from rows read in batches (read.ts).
 */
function exportBody(db: Db, parts: ExportPart[], format: Format): ReadableStream<Uint8Array> {
  if (format === 'csv') return copyCsvStream(db, parts);
  if (format === 'parquet') return parquetStream(db, parts);
  return exportStream(exportBatches(db, parts), encoder('jsonl'));
}

const exportResponses = {
  200: {
    description:
      'the usage records, streamed: a CSV header row and RFC 4180 records (CRLF), JSON Lines, ' +
      'or a Parquet file; `Content-Disposition` names the file. Every column is described ' +
      'in UsageExportRow.',
    headers: {
      ETag: {
        description: 'only when every period in the export is closed: the bytes never change',
        schema: { type: 'string' as const },
      },
      'Content-Disposition': {
        description: 'attachment; filename="…"',
        schema: { type: 'string' as const },
      },
    },
    content: {
      'text/csv': { schema: UsageExportRow },
      'application/x-ndjson': { schema: UsageExportRow },
      'application/vnd.apache.parquet': { schema: z.string().openapi({ format: 'binary' }) },
    },
  },
  304: { description: 'If-None-Match matched the ETag of a closed export' },
};

const description =
  'A period (`period=YYYY-MM`) or a range (`from`, `to`: records whose slice starts in ' +
  '[from, to), at most 366 days). An open period is derived from the session events first ' +
  'and exported as it stands; a closed one is byte-identical whenever downloaded again.';

export function billingExportRoutes(db: Db) {
  const app = router();

  app.openapi(
    apiRoute({
      method: 'get',
      path: '/v1/tenants/{tenant}/billing/export',
      tags,
      summary: 'Export the tenant’s usage records as CSV, JSON Lines or Parquet (tenant-admin)',
      description,
      middleware: [requireRole('platform-admin', 'tenant-admin')],
      request: { params: params('tenant'), query: ExportQuery },
      responses: exportResponses,
    }),
    async (c) => {
      const q = c.req.valid('query');
      const tenant = c.get('tenant');
      const periods = await refreshedPeriods(db, tenant.id);
      const { parts, periods: chosen } = partsOf(tenant, periods, q);
      if (q.period && parts.length === 0) throw notFound(`billing period ${q.period}`);
      const etag = exportEtag(`tenant:${tenant.id}`, q, chosen);
      return respond(c, db, { name: tenant.slug, q, parts, etag });
    },
  );

  app.openapi(
    apiRoute({
      method: 'get',
      path: '/v1/billing/export',
      tags,
      summary: 'Export every tenant’s usage records (platform-admin)',
      description: `${description} Tenants follow one another by slug.`,
      middleware: [requireRole('platform-admin')],
      request: { query: ExportQuery },
      responses: exportResponses,
    }),
    async (c) => {
      const q = c.req.valid('query');
      const all = await db.select().from(tenants).orderBy(asc(tenants.slug), asc(tenants.id));
      const parts: ExportPart[] = [];
      const chosen: PeriodRow[] = [];
      for (const t of all) {
        const periods = await refreshedPeriods(db, t.id);
        const mine = partsOf(t, periods, q);
        parts.push(...mine.parts);
        chosen.push(...mine.periods);
      }
      const etag = exportEtag('platform', q, chosen);
      return respond(c, db, { name: 'all', q, parts, etag });
    },
  );

  return app;
}
