// Data-loss prevention switches and limits of streams (docs/files.md): the tenant's policy and
// each app's, read and replaced whole (PUT), by the tenant's admins and platform admins. A
// running session keeps what it was launched with; the next launch gets the new policy.
import { z } from '@hono/zod-openapi';
import { and, eq, isNull } from 'drizzle-orm';
import { v7 as uuidv7 } from 'uuid';
import { auditDiff } from '../audit/diff.ts';
import type { Db } from '../db/connect.ts';
import { transferPolicies } from '../db/schema.ts';
import { OPEN_POLICY, type TransferPolicy as Policy } from '../domain/transfer.ts';
import { audit } from '../http/audit.ts';
import { requireRole } from '../http/auth.ts';
import { notFound } from '../http/errors.ts';
import { apiRoute, body, json, params, router } from '../http/route.ts';
import type { Lookups } from '../lookups.ts';
import { readTransferPolicy as read } from '../sessions/transfer-policies.ts';

const tags = ['transfer policy'];
const admins = [requireRole('platform-admin', 'tenant-admin')];
/** 1 PiB: beyond any disk, well inside a bigint and a JavaScript number */
const MAX_BYTES = 2 ** 50;

const limit = (what: string) =>
  z
    .number()
    .int()
    .min(0)
    .max(MAX_BYTES)
    .nullable()
    .openapi({ description: `${what}, in bytes; null: no limit`, example: 1_073_741_824 });

export const TransferPolicy = z
  .strictObject({
    clipboard: z.boolean().openapi({ description: 'clipboard text both ways' }),
    files: z.boolean().openapi({ description: 'uploads into and downloads out of the home' }),
    maxFileBytes: limit('largest file either way'),
    maxHomeBytes: limit('most the session’s home may hold once an upload is in'),
  })
  .openapi('TransferPolicy', {
    description:
      'What streams allow (enforced by the streamer). An app’s policy only narrows its ' +
      'tenant’s: a switch is on when both are, a limit is the smaller.',
  });

export function transferPolicyRoutes(db: Db, lookups: Lookups) {
  const app = router();

  async function appOf(tenantId: string, ref: string) {
    const row = await lookups.app(tenantId, ref);
    if (!row) throw notFound('app');
    return row;
  }

  async function save(
    c: Parameters<typeof audit>[0],
    tenantId: string,
    appId: string | null,
    policy: Policy,
  ) {
    await db.transaction(async (tx) => {
      const before = await read(tx, tenantId, appId);
      if (before) {
        await tx
          .update(transferPolicies)
          .set({ ...policy, updatedAt: new Date() })
          .where(
            and(
              eq(transferPolicies.tenantId, tenantId),
              appId === null ? isNull(transferPolicies.appId) : eq(transferPolicies.appId, appId),
            ),
          );
      } else {
        await tx.insert(transferPolicies).values({ id: uuidv7(), tenantId, appId, ...policy });
      }
      await audit(c, tx, {
        tenantId,
        action: appId === null ? 'transfer-policy.update' : 'app.transfer-policy.update',
        target: appId === null ? { type: 'tenant', id: tenantId } : { type: 'app', id: appId },
        diff: auditDiff({ ...(before ?? OPEN_POLICY) }, { ...policy }),
      });
    });
  }

  app.openapi(
    apiRoute({
      method: 'get',
      path: '/v1/tenants/{tenant}/transfer-policy',
      tags,
      summary: 'The tenant’s clipboard and file-transfer policy (tenant-admin)',
      middleware: admins,
      request: { params: params('tenant') },
      responses: { 200: json(TransferPolicy, 'the policy') },
    }),
    async (c) => c.json((await read(db, c.get('tenant').id, null)) ?? OPEN_POLICY, 200),
  );

  app.openapi(
    apiRoute({
      method: 'put',
      path: '/v1/tenants/{tenant}/transfer-policy',
      tags,
      summary: 'Set the tenant’s clipboard and file-transfer policy (tenant-admin)',
      description: 'Applies to sessions launched from now on.',
      middleware: admins,
      request: { params: params('tenant'), body: body(TransferPolicy) },
      responses: { 200: json(TransferPolicy, 'saved') },
    }),
    async (c) => {
      const policy = c.req.valid('json');
      await save(c, c.get('tenant').id, null, policy);
      return c.json(policy, 200);
    },
  );

  app.openapi(
    apiRoute({
      method: 'get',
      path: '/v1/tenants/{tenant}/apps/{app}/transfer-policy',
      tags,
      summary: 'An app’s own clipboard and file-transfer policy (tenant-admin)',
      middleware: admins,
      request: { params: params('tenant', 'app') },
      responses: { 200: json(TransferPolicy, 'the policy') },
    }),
    async (c) => {
      const tenantId = c.get('tenant').id;
      const row = await appOf(tenantId, c.req.valid('param').app);
      return c.json((await read(db, tenantId, row.id)) ?? OPEN_POLICY, 200);
    },
  );

  app.openapi(
    apiRoute({
      method: 'put',
      path: '/v1/tenants/{tenant}/apps/{app}/transfer-policy',
      tags,
      summary: 'Set an app’s clipboard and file-transfer policy (tenant-admin)',
      description: 'Narrows the tenant’s policy for this app’s sessions launched from now on.',
      middleware: admins,
      request: { params: params('tenant', 'app'), body: body(TransferPolicy) },
      responses: { 200: json(TransferPolicy, 'saved') },
    }),
    async (c) => {
      const tenantId = c.get('tenant').id;
      const row = await appOf(tenantId, c.req.valid('param').app);
      const policy = c.req.valid('json');
      await save(c, tenantId, row.id, policy);
      return c.json(policy, 200);
    },
  );

  return app;
}
