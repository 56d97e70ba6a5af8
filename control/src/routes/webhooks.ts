import { and, desc, eq, isNull } from 'drizzle-orm';
import { v7 as uuidv7 } from 'uuid';
import { auditDiff } from '../audit/diff.ts';
import type { Db } from '../db/connect.ts';
import { webhookDeliveries, webhookEndpoints } from '../db/schema.ts';
import { audit } from '../http/audit.ts';
import { requireRole } from '../http/auth.ts';
import { badRequest, notFound } from '../http/errors.ts';
import { afterCursor, pageOf } from '../http/paginate.ts';
import { apiRoute, body, json, params, router } from '../http/route.ts';
import { ListQuery, page } from '../http/schemas.ts';
import {
  DeliveryListQuery,
  EVENT_FAMILIES,
  EVENT_TYPES,
  EventTypeList,
  WebhookDelivery,
  WebhookEndpoint,
  WebhookEndpointCreate,
  WebhookEndpointCreated,
  WebhookEndpointPatch,
} from '../http/webhook-schemas.ts';
import { isUuid } from '../lookups.ts';
import type { SecretBox } from '../secrets.ts';
import { presentDelivery, presentEndpoint } from '../webhooks/present.ts';
import { newWebhookSecret, webhookSecretContext } from '../webhooks/secret.ts';
import { addressRefusal, blockListOf, type TargetPolicy, urlRefusal } from '../webhooks/target.ts';

const tags = ['webhooks'];
const admin = [requireRole('platform-admin', 'tenant-admin')];

export function webhookRoutes(db: Db, secrets: SecretBox, target: TargetPolicy) {
  const app = router();
  const one = params('tenant', 'webhook');
  const denied = blockListOf(target.deniedCidrs);

  /** What can be told before any lookup; the resolved address is checked at delivery. */
  function checkUrl(url: string) {
    const refused = urlRefusal(url, target);
    if (refused) throw badRequest(`url: ${refused}`);
    const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
    const literal = addressRefusal(host, target, denied);
    if (literal && !literal.endsWith('is not an IP address')) throw badRequest(`url: ${literal}`);
  }

  async function load(tenantId: string, id: string) {
    if (!isUuid(id)) throw notFound('webhook endpoint');
    const [row] = await db
      .select()
      .from(webhookEndpoints)
      .where(
        and(
          eq(webhookEndpoints.id, id),
          eq(webhookEndpoints.tenantId, tenantId),
          isNull(webhookEndpoints.deletedAt),
        ),
      );
    if (!row) throw notFound('webhook endpoint');
    return row;
  }

  app.openapi(
    apiRoute({
      method: 'get',
      path: '/v1/webhook-event-types',
      tags,
      summary: 'The event types an endpoint may subscribe to',
      responses: { 200: json(EventTypeList, 'types and families') },
    }),
    (c) => c.json({ types: [...EVENT_TYPES], families: EVENT_FAMILIES }, 200),
  );

  app.openapi(
    apiRoute({
      method: 'post',
      path: '/v1/tenants/{tenant}/webhooks',
      tags,
      summary: 'Add a webhook endpoint; its signing secret is in this answer only',
      description:
        'Deliveries are signed per Standard Webhooks (webhook-id, webhook-timestamp, ' +
        'webhook-signature). Targets on loopback, private, link-local or the cluster’s own ' +
        'addresses are refused, also when the name resolves there at delivery time.',
      middleware: admin,
      request: { params: params('tenant'), body: body(WebhookEndpointCreate) },
      responses: { 201: json(WebhookEndpointCreated, 'created; keep the secret') },
    }),
    async (c) => {
      const input = c.req.valid('json');
      checkUrl(input.url);
      const tenantId = c.get('tenant').id;
      const id = uuidv7();
      const secret = newWebhookSecret();
      const row = await db.transaction(async (tx) => {
        const [created] = await tx
          .insert(webhookEndpoints)
          .values({
            id,
            tenantId,
            url: input.url,
            description: input.description,
            eventTypes: [...new Set(input.eventTypes)],
            secretSealed: secrets.seal(secret, webhookSecretContext(id)),
          })
          .returning();
        await audit(c, tx, {
          tenantId,
          action: 'webhook.create',
          target: { type: 'webhook', id },
          diff: auditDiff(null, presentEndpoint(created!)),
        });
        return created!;
      });
      return c.json({ ...presentEndpoint(row), secret }, 201);
    },
  );

  app.openapi(
    apiRoute({
      method: 'get',
      path: '/v1/tenants/{tenant}/webhooks',
      tags,
      summary: 'List the tenant’s webhook endpoints',
      middleware: admin,
      request: { params: params('tenant'), query: ListQuery },
      responses: { 200: json(page(WebhookEndpoint, 'WebhookEndpointPage'), 'endpoints') },
    }),
    async (c) => {
      const { limit, cursor } = c.req.valid('query');
      const rows = await db
        .select()
        .from(webhookEndpoints)
        .where(
          and(
            eq(webhookEndpoints.tenantId, c.get('tenant').id),
            isNull(webhookEndpoints.deletedAt),
            afterCursor(webhookEndpoints.id, cursor),
          ),
        )
        .orderBy(desc(webhookEndpoints.id))
        .limit(limit + 1);
      return c.json(pageOf(rows, limit, presentEndpoint), 200);
    },
  );

  app.openapi(
    apiRoute({
      method: 'get',
      path: '/v1/tenants/{tenant}/webhooks/{webhook}',
      tags,
      summary: 'Get a webhook endpoint (never its secret)',
      middleware: admin,
      request: { params: one },
      responses: { 200: json(WebhookEndpoint, 'the endpoint') },
    }),
    async (c) =>
      c.json(presentEndpoint(await load(c.get('tenant').id, c.req.valid('param').webhook)), 200),
  );

  app.openapi(
    apiRoute({
      method: 'patch',
      path: '/v1/tenants/{tenant}/webhooks/{webhook}',
      tags,
      summary: 'Change a webhook endpoint, or enable it again after Floe disabled it',
      middleware: admin,
      request: { params: one, body: body(WebhookEndpointPatch) },
      responses: { 200: json(WebhookEndpoint, 'the endpoint') },
    }),
    async (c) => {
      const current = await load(c.get('tenant').id, c.req.valid('param').webhook);
      const input = c.req.valid('json');
      if (input.url !== undefined) checkUrl(input.url);
      const row = await db.transaction(async (tx) => {
        const [updated] = await tx
          .update(webhookEndpoints)
          .set({
            url: input.url,
            description: input.description,
            eventTypes: input.eventTypes && [...new Set(input.eventTypes)],
            ...(input.enabled === true && {
              enabled: true,
              disabledReason: null,
              failingSince: null,
              consecutiveFailures: 0,
            }),
            ...(input.enabled === false && { enabled: false, disabledReason: null }),
            updatedAt: new Date(),
          })
          .where(eq(webhookEndpoints.id, current.id))
          .returning();
        await audit(c, tx, {
          tenantId: current.tenantId,
          action: 'webhook.update',
          target: { type: 'webhook', id: current.id },
          diff: auditDiff(presentEndpoint(current), presentEndpoint(updated!)),
        });
        return updated!;
      });
      return c.json(presentEndpoint(row), 200);
    },
  );

  app.openapi(
    apiRoute({
      method: 'delete',
      path: '/v1/tenants/{tenant}/webhooks/{webhook}',
      tags,
      summary: 'Remove a webhook endpoint; its pending deliveries are not sent',
      middleware: admin,
      request: { params: one },
      responses: { 204: { description: 'removed' } },
    }),
    async (c) => {
      const current = await load(c.get('tenant').id, c.req.valid('param').webhook);
      await db.transaction(async (tx) => {
        await tx
          .update(webhookEndpoints)
          .set({ deletedAt: new Date(), enabled: false })
          .where(eq(webhookEndpoints.id, current.id));
        await audit(c, tx, {
          tenantId: current.tenantId,
          action: 'webhook.delete',
          target: { type: 'webhook', id: current.id },
          diff: auditDiff(presentEndpoint(current), null),
        });
      });
      return c.body(null, 204);
    },
  );

  app.openapi(
    apiRoute({
      method: 'get',
      path: '/v1/tenants/{tenant}/webhooks/{webhook}/deliveries',
      tags,
      summary: 'The endpoint’s delivery log, newest first',
      middleware: admin,
      request: { params: one, query: DeliveryListQuery },
      responses: { 200: json(page(WebhookDelivery, 'WebhookDeliveryPage'), 'deliveries') },
    }),
    async (c) => {
      const endpoint = await load(c.get('tenant').id, c.req.valid('param').webhook);
      const { limit, cursor, state } = c.req.valid('query');
      const rows = await db
        .select()
        .from(webhookDeliveries)
        .where(
          and(
            eq(webhookDeliveries.endpointId, endpoint.id),
            state ? eq(webhookDeliveries.state, state) : undefined,
            afterCursor(webhookDeliveries.id, cursor),
          ),
        )
        .orderBy(desc(webhookDeliveries.id))
        .limit(limit + 1);
      return c.json(pageOf(rows, limit, presentDelivery), 200);
    },
  );

  app.openapi(
    apiRoute({
      method: 'post',
      path: '/v1/tenants/{tenant}/webhooks/{webhook}/deliveries/{delivery}/redeliver',
      tags,
      summary: 'Send a delivery’s event again (a new delivery, the same webhook-id)',
      middleware: admin,
      request: { params: params('tenant', 'webhook', 'delivery') },
      responses: { 202: json(WebhookDelivery, 'queued') },
    }),
    async (c) => {
      const { webhook, delivery } = c.req.valid('param');
      const endpoint = await load(c.get('tenant').id, webhook);
      if (!isUuid(delivery)) throw notFound('delivery');
      const [original] = await db
        .select()
        .from(webhookDeliveries)
        .where(
          and(eq(webhookDeliveries.id, delivery), eq(webhookDeliveries.endpointId, endpoint.id)),
        );
      if (!original) throw notFound('delivery');
      const row = await db.transaction(async (tx) => {
        const [queued] = await tx
          .insert(webhookDeliveries)
          .values({
            id: uuidv7(),
            eventId: original.eventId,
            endpointId: endpoint.id,
            tenantId: endpoint.tenantId,
            eventType: original.eventType,
            payload: original.payload,
          })
          .returning();
        await audit(c, tx, {
          tenantId: endpoint.tenantId,
          action: 'webhook.redeliver',
          target: { type: 'webhook-delivery', id: queued!.id },
          diff: { redelivers: { from: null, to: original.id } },
        });
        return queued!;
      });
      return c.json(presentDelivery(row), 202);
    },
  );

  return app;
}
