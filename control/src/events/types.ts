// The events a tenant's webhook endpoints may subscribe to. `audit.<action>` events exist
// for every audited action (src/audit/record.ts); an endpoint names them one by one or as
// `audit.*`.
import { SESSION_STATES } from '../db/schema.ts';

export const SESSION_EVENT_TYPES = SESSION_STATES.map((s) => `session.${s}` as const);

export const EVENT_TYPES = [
  ...SESSION_EVENT_TYPES,
  'quota.warning',
  'quota.exceeded',
  'billing.period.closed',
] as const;
export type EventType = (typeof EVENT_TYPES)[number] | `audit.${string}`;

/** what an endpoint may ask for: a type, a family (`session.*`), or an audit action */
export const EVENT_PATTERN =
  /^(\*|(session|quota|billing|audit)\.\*|audit\.[a-z][a-z-]*(\.[a-z][a-z-]*)+|[a-z]+(\.[a-z]+)+)$/;

/** Whether `pattern` may be subscribed to: a known type, a family, or an audit action. */
export function validEventPattern(pattern: string): boolean {
  if (!EVENT_PATTERN.test(pattern)) return false;
  if (pattern === '*' || pattern.endsWith('.*') || pattern.startsWith('audit.')) return true;
  return (EVENT_TYPES as readonly string[]).includes(pattern);
}

/**
 * Whether an event of `type` goes to an endpoint subscribed to `patterns`; the same rule as
 * floe_event_type_matches (drizzle/0008_audit_webhooks.sql), which the outbox uses inside the transaction.
 * `*` covers every type except audit events, which are asked for by name.
 */
export function eventTypeMatches(patterns: readonly string[], type: string): boolean {
  return patterns.some(
    (p) =>
      p === type ||
      (p === '*' && !type.startsWith('audit.')) ||
      (p.endsWith('.*') && type.startsWith(p.slice(0, -1))),
  );
}
