import { z } from '@hono/zod-openapi';
import { DELIVERY_STATES } from '../db/schema.ts';
import { EVENT_TYPES, validEventPattern } from '../events/types.ts';
import { ListQuery } from './schemas.ts';

const date = z.string().openapi({ format: 'date-time' });

const EventTypes = z
  .array(
    z
      .string()
      .max(100)
      .refine(validEventPattern, 'an event type, a family such as session.*, or audit.<action>'),
  )
  .min(1)
  .max(50)
  .openapi({ example: ['session.*', 'quota.exceeded'] });

const Url = z
  .url({ protocol: /^https?$/ })
  .max(2000)
  .openapi({ example: 'https://hooks.example.com/floe' });

export const WebhookEndpoint = z
  .object({
    id: z.uuid(),
    tenantId: z.uuid(),
    url: z.string(),
    description: z.string(),
    eventTypes: z.array(z.string()),
    enabled: z.boolean(),
    disabledReason: z
      .string()
      .nullable()
      .openapi({ description: 'why Floe disabled it (sustained failure); null when enabled' }),
    failingSince: date.nullable(),
    consecutiveFailures: z.number().int(),
    createdAt: date,
    updatedAt: date,
  })
  .openapi('WebhookEndpoint');

export const WebhookEndpointCreated = WebhookEndpoint.extend({
  secret: z.string().openapi({
    description: 'the Standard Webhooks signing secret (whsec_…); shown in this answer only',
  }),
}).openapi('WebhookEndpointCreated');

export const WebhookEndpointCreate = z
  .object({
    url: Url,
    description: z.string().max(500).default(''),
    eventTypes: EventTypes,
  })
  .openapi('WebhookEndpointCreate');

export const WebhookEndpointPatch = z
  .object({
    url: Url.optional(),
    description: z.string().max(500).optional(),
    eventTypes: EventTypes.optional(),
    enabled: z.boolean().optional().openapi({
      description: 'true re-enables an endpoint Floe disabled, and clears its failures',
    }),
  })
  .openapi('WebhookEndpointPatch');

export const WebhookDelivery = z
  .object({
    id: z.uuid(),
    eventId: z.uuid().openapi({ description: 'the webhook-id header; the same on redelivery' }),
    endpointId: z.uuid(),
    eventType: z.string(),
    state: z.enum(DELIVERY_STATES),
    attempts: z.number().int(),
    nextAttemptAt: date.nullable().openapi({ description: 'while pending' }),
    lastAttemptAt: date.nullable(),
    lastStatus: z.number().int().nullable(),
    lastError: z.string().nullable(),
    deliveredAt: date.nullable(),
    createdAt: date,
    payload: z.record(z.string(), z.unknown()),
  })
  .openapi('WebhookDelivery');

export const DeliveryListQuery = ListQuery.extend({
  state: z.enum(DELIVERY_STATES).optional(),
});

export const EventTypeList = z
  .object({
    types: z.array(z.string()),
    families: z.array(z.string()),
  })
  .openapi('WebhookEventTypes');

export const EVENT_FAMILIES = ['session.*', 'quota.*', 'billing.*', 'audit.*', '*'];
export { EVENT_TYPES };
