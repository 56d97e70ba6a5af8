import { z } from '@hono/zod-openapi';
import { AUDIT_ACTOR_TYPES } from '../db/schema.ts';
import { ListQuery } from './schemas.ts';

const time = z.iso.datetime({ offset: true });

export const AuditEntry = z
  .object({
    id: z.uuid(),
    at: z.string().openapi({ format: 'date-time' }),
    tenantId: z.uuid().nullable().openapi({ description: 'null: a platform-wide change' }),
    actor: z.object({
      type: z.enum(AUDIT_ACTOR_TYPES),
      id: z.string().nullable().openapi({ description: 'the API key’s or the user’s id' }),
      role: z.string(),
      tenantId: z.uuid().nullable(),
    }),
    action: z.string().openapi({ example: 'app.update' }),
    target: z.object({ type: z.string(), id: z.string().nullable() }),
    diff: z
      .record(z.string(), z.unknown())
      .nullable()
      .openapi({ description: '{field: {from, to}}, secrets shown as "[redacted]"' }),
    request: z.object({
      id: z.string().nullable(),
      sourceIp: z.string().nullable().openapi({ description: 'as the gateway saw it' }),
      userAgent: z.string().nullable(),
    }),
  })
  .openapi('AuditEntry');

export const AuditFilterQuery = z.object({
  actor: z.string().max(100).optional().openapi({ description: 'the API key’s or user’s id' }),
  actorType: z.enum(AUDIT_ACTOR_TYPES).optional(),
  action: z
    .string()
    .regex(/^[a-z][a-z-]*(\.[a-z][a-z-]*)*(\.\*)?$/)
    .max(100)
    .optional()
    .openapi({ description: 'an action, or a family such as `app.*`', example: 'session.*' }),
  targetType: z.string().max(50).optional(),
  targetId: z.string().max(100).optional(),
  since: time.optional().openapi({ description: 'entries at or after' }),
  until: time.optional().openapi({ description: 'entries before' }),
});

export const PlatformAuditFilterQuery = AuditFilterQuery.extend({
  tenant: z.uuid().optional().openapi({ description: 'one tenant’s entries only' }),
});

export const AuditListQuery = ListQuery.extend(AuditFilterQuery.shape);
export const PlatformAuditListQuery = ListQuery.extend(PlatformAuditFilterQuery.shape);
