import { and, asc, eq, inArray, isNotNull, isNull, ne } from 'drizzle-orm';
import { auditDiff } from '../audit/diff.ts';
import type { Db, Tx } from '../db/connect.ts';
import { identityProviders, tenantHostnames, tenants } from '../db/schema.ts';
import { issuerRefusal } from '../domain/issuers.ts';
import { audit } from '../http/audit.ts';
import { requireRole } from '../http/auth.ts';
import { ApiError, conflict, ErrorSchema, notFound } from '../http/errors.ts';
import { apiRoute, body, json, params, router } from '../http/route.ts';
import { IdentityProvider, IdentityProviderPut } from '../http/schemas.ts';
import type { SecretBox } from '../secrets.ts';
import { uniqueViolation } from './db-errors.ts';

const tags = ['identity-provider'];
const admin = [requireRole('platform-admin', 'tenant-admin')];
const path = '/v1/tenants/{tenant}/identity-provider';

/** What a sealed client secret is bound to: it opens for its own tenant only. */
export const clientSecretContext = (tenantId: string) => `identity-provider:${tenantId}`;

type IdpRow = typeof identityProviders.$inferSelect;

/** The claim an identity provider's ID tokens must carry, as the API shows it. */
export const requiredClaimOf = (row: IdpRow) =>
  row.requiredClaimName !== null && row.requiredClaimValue !== null
    ? { name: row.requiredClaimName, value: row.requiredClaimValue }
    : null;

/** The configuration as admins see it: the client secret is write-only. */
function present(row: IdpRow, hostnames: string[]) {
  return {
    issuer: row.issuer,
    clientId: row.clientId,
    hasClientSecret: row.clientSecretSealed !== null,
    rolesClaim: row.rolesClaim,
    adminRoles: row.adminRoles,
    hostnames,
    allowedEmailDomains: row.allowedEmailDomains,
    requiredClaim: requiredClaimOf(row),
    updatedAt: row.updatedAt.toISOString(),
  };
}

async function hostnamesOf(db: Db | Tx, tenantId: string) {
  const rows = await db
    .select({ hostname: tenantHostnames.hostname })
    .from(tenantHostnames)
    .where(eq(tenantHostnames.tenantId, tenantId))
    .orderBy(asc(tenantHostnames.hostname));
  return rows.map((r) => r.hostname);
}

/** Removes a tenant's identity provider and frees its host names. */
export async function removeIdentityProvider(tx: Db | Tx, tenantId: string): Promise<boolean> {
  await tx.delete(tenantHostnames).where(eq(tenantHostnames.tenantId, tenantId));
  const gone = await tx
    .delete(identityProviders)
    .where(eq(identityProviders.tenantId, tenantId))
    .returning({ tenantId: identityProviders.tenantId });
  return gone.length > 0;
}

export function identityProviderRoutes(
  db: Db,
  secrets: SecretBox,
  opts: { insecureIssuers: boolean },
) {
  const app = router();

  app.openapi(
    apiRoute({
      method: 'put',
      path,
      tags,
      summary: 'Set the tenant’s OpenID Provider, which the gateway signs its users in with',
      description:
        'The client secret is write-only and stored encrypted (AES-256-GCM); omit it to keep ' +
        'the stored one (and the same for allowedEmailDomains and requiredClaim). Host ' +
        'names select the tenant at the gateway and are unique across tenants. In production the issuer must be https on a public host (no loopback, ' +
        'private or in-cluster address); plain http only in development mode.',
      middleware: admin,
      request: { params: params('tenant'), body: body(IdentityProviderPut) },
      responses: {
        200: json(IdentityProvider, 'the configuration'),
        409: json(ErrorSchema, 'a host name already selects another tenant'),
      },
    }),
    async (c) => {
      const input = c.req.valid('json');
      const tenant = c.get('tenant');
      const refused = issuerRefusal(input.issuer, { insecure: opts.insecureIssuers });
      if (refused) throw new ApiError(400, 'invalid_request', refused);
      const hostnames = [...new Set(input.hostnames)].sort();
      // undefined: keep the stored secret (so it is left out of the update)
      const clientSecretSealed =
        input.clientSecret === undefined
          ? undefined
          : input.clientSecret === null
            ? null
            : secrets.seal(input.clientSecret, clientSecretContext(tenant.id));

      if (hostnames.length > 0) {
        const taken = await db
          .select({ hostname: tenantHostnames.hostname })
          .from(tenantHostnames)
          .innerJoin(tenants, eq(tenants.id, tenantHostnames.tenantId))
          .where(
            and(
              inArray(tenantHostnames.hostname, hostnames),
              ne(tenantHostnames.tenantId, tenant.id),
              isNull(tenants.deletedAt),
            ),
          );
        if (taken.length > 0) {
          const names = taken.map((t) => t.hostname).join(', ');
          throw conflict(`host name ${names} already selects another tenant`);
        }
      }

      const now = new Date();
      const fields = {
        issuer: input.issuer,
        clientId: input.clientId,
        rolesClaim: input.rolesClaim,
        adminRoles: input.adminRoles,
        updatedAt: now,
      };
      // the binding to the tenant: omitted, the stored one is kept (so that a client that
      // does not know these fields, such as an older console, cannot drop it unseen)
      const binding = {
        ...(input.allowedEmailDomains !== undefined && {
          allowedEmailDomains: [...new Set(input.allowedEmailDomains)].sort(),
        }),
        ...(input.requiredClaim !== undefined && {
          requiredClaimName: input.requiredClaim?.name ?? null,
          requiredClaimValue: input.requiredClaim?.value ?? null,
        }),
      };
      const row = await db
        .transaction(async (tx) => {
          const [before] = await tx
            .select()
            .from(identityProviders)
            .where(eq(identityProviders.tenantId, tenant.id));
          const hostnamesBefore = before ? await hostnamesOf(tx, tenant.id) : [];
          if (hostnames.length > 0) {
            // names that deleted tenants held are free
            const deleted = tx
              .select({ id: tenants.id })
              .from(tenants)
              .where(isNotNull(tenants.deletedAt));
            await tx
              .delete(tenantHostnames)
              .where(
                and(
                  inArray(tenantHostnames.hostname, hostnames),
                  inArray(tenantHostnames.tenantId, deleted),
                ),
              );
          }
          const [saved] = await tx
            .insert(identityProviders)
            .values({
              tenantId: tenant.id,
              ...fields,
              ...binding,
              clientSecretSealed: clientSecretSealed ?? null,
            })
            .onConflictDoUpdate({
              target: identityProviders.tenantId,
              set: {
                ...fields,
                ...binding,
                ...(clientSecretSealed !== undefined && { clientSecretSealed }),
              },
            })
            .returning();
          await tx.delete(tenantHostnames).where(eq(tenantHostnames.tenantId, tenant.id));
          if (hostnames.length > 0) {
            await tx
              .insert(tenantHostnames)
              .values(hostnames.map((hostname) => ({ hostname, tenantId: tenant.id })));
          }
          await audit(c, tx, {
            tenantId: tenant.id,
            action: before ? 'identity-provider.update' : 'identity-provider.create',
            target: { type: 'identity-provider', id: tenant.id },
            diff: auditDiff(before ? { ...before, hostnames: hostnamesBefore } : null, {
              ...saved!,
              hostnames,
            }),
          });
          return saved!;
        })
        .catch(uniqueViolation('a host name already selects another tenant'));
      return c.json(present(row, hostnames), 200);
    },
  );

  app.openapi(
    apiRoute({
      method: 'get',
      path,
      tags,
      summary: 'Get the tenant’s OpenID Provider (never its client secret)',
      middleware: admin,
      request: { params: params('tenant') },
      responses: { 200: json(IdentityProvider, 'the configuration') },
    }),
    async (c) => {
      const tenantId = c.get('tenant').id;
      const [row] = await db
        .select()
        .from(identityProviders)
        .where(eq(identityProviders.tenantId, tenantId));
      if (!row) throw notFound('identity provider');
      return c.json(present(row, await hostnamesOf(db, tenantId)), 200);
    },
  );

  app.openapi(
    apiRoute({
      method: 'delete',
      path,
      tags,
      summary: 'Remove the tenant’s OpenID Provider and free its host names',
      middleware: admin,
      request: { params: params('tenant') },
      responses: { 204: { description: 'removed' } },
    }),
    async (c) => {
      const tenantId = c.get('tenant').id;
      const removed = await db.transaction(async (tx) => {
        const done = await removeIdentityProvider(tx, tenantId);
        if (done) {
          await audit(c, tx, {
            tenantId,
            action: 'identity-provider.delete',
            target: { type: 'identity-provider', id: tenantId },
          });
        }
        return done;
      });
      if (!removed) throw notFound('identity provider');
      return c.body(null, 204);
    },
  );

  return app;
}
