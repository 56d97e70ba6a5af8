// The billing API's contract (issue 16): rate cards, settings, periods and exports.
import { z } from '@hono/zod-openapi';
import { isTimeZone } from '../billing/calendar.ts';
import { FORMATS } from '../billing/export/encode.ts';
import { params } from './route.ts';

const EARLIEST = Date.parse('2000-01-01T00:00:00Z');
const LATEST = Date.parse('9999-12-31T23:59:59.999Z');
const timestamp = z.iso.datetime({ offset: true }).refine(
  (s) => {
    const t = Date.parse(s);
    return t >= EARLIEST && t <= LATEST;
  },
  { message: 'must be between 2000-01-01T00:00:00Z and 9999-12-31T23:59:59Z' },
);

/** Exact money: a decimal string, never a float. */
export const Price = z
  .string()
  .regex(/^\d{1,12}(\.\d{1,6})?$/, 'a decimal amount such as 0.25 (up to 6 decimals)')
  .openapi({ example: '0.25' });

const key = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'a slug or GPU model name');
const priceMap = (what: string) =>
  z
    .record(key, Price)
    .refine((m) => Object.keys(m).length <= 200, 'at most 200 entries')
    .openapi({ description: what });

export const RateCardCreate = z
  .strictObject({
    currency: z
      .string()
      .regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as EUR')
      .openapi({ example: 'EUR' }),
    effectiveFrom: timestamp.openapi({
      description: 'from when it applies; a period is priced by the card in force at its start',
    }),
    sessionHour: Price.openapi({ description: 'per session-hour, for apps not listed below' }),
    appSessionHour: priceMap('per session-hour, by app slug (before its class)').default({}),
    classSessionHour: priceMap(
      'per session-hour, by app class (an app’s `class`), for apps not listed by slug',
    ).default({}),
    gpuHour: priceMap('per GPU-hour, by GPU SKU (a SKU not listed costs nothing)').default({}),
  })
  .openapi('RateCardCreate');

export const RateCard = z
  .object({
    id: z.uuid(),
    tenantId: z.uuid().nullable().openapi({ description: 'null: the platform default' }),
    currency: z.string(),
    effectiveFrom: z.string(),
    sessionHour: z.string(),
    appSessionHour: z.record(z.string(), z.string()),
    classSessionHour: z.record(z.string(), z.string()),
    gpuHour: z.record(z.string(), z.string()),
    createdAt: z.string(),
  })
  .openapi('RateCard');

export const RateCardList = z.object({ items: z.array(RateCard) }).openapi('RateCardList');

export const EffectiveRateCard = z
  // a union, not .nullable(): that renders allOf [RateCard, {type: [object, null]}]
  .object({ at: z.string(), card: z.union([RateCard, z.null()]) })
  .openapi('EffectiveRateCard');

export const AtQuery = z.object({
  at: timestamp.optional().openapi({ description: 'default: now' }),
});

export const BillingSettings = z
  .strictObject({
    timeZone: z
      .string()
      .max(64)
      .refine(isTimeZone, 'an IANA time zone such as Europe/Berlin')
      .openapi({ example: 'Europe/Berlin' }),
  })
  .openapi('BillingSettings', {
    description:
      'billing months start at midnight in this zone (default UTC); periods already made keep theirs',
  });

export const PeriodLabel = z
  .string()
  .regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'a month as YYYY-MM')
  .openapi({ example: '2026-11' });

export const Totals = z
  .object({
    records: z.number().int(),
    sessionSeconds: z.string().openapi({ description: 'decimal, 3 places' }),
    gpuSeconds: z.string().openapi({ description: 'decimal, 3 places' }),
    amount: z.string().openapi({ description: 'decimal, 6 places' }),
    currency: z.string(),
  })
  .openapi('BillingTotals');

export const Period = z
  .object({
    id: z.uuid(),
    tenant: z.string().openapi({ description: 'the tenant’s slug' }),
    label: PeriodLabel,
    start: z.string(),
    end: z.string(),
    timeZone: z.string(),
    state: z.enum(['open', 'closed']),
    closedAt: z.string().nullable(),
    totals: Totals.openapi({ description: 'frozen once closed; up to now while open' }),
  })
  .openapi('BillingPeriod');

export const PeriodList = z.object({ items: z.array(Period) }).openapi('BillingPeriodList');

const Group = (key: string) =>
  Totals.omit({ currency: true }).extend({ key: z.string().openapi({ description: key }) });

export const PeriodSummary = z
  .object({
    period: Period,
    byUser: z.array(Group('the user’s email')),
    byApp: z.array(Group('the app’s slug')),
    bySku: z.array(Group('the GPU SKU; empty for none')),
    byDay: z.array(Group('YYYY-MM-DD in the period’s time zone, by the day a slice started')),
  })
  .openapi('BillingPeriodSummary');

export const PlatformPeriod = z
  .object({ label: PeriodLabel, items: z.array(Period) })
  .openapi('PlatformBillingPeriod');

export const PlatformClose = z
  .object({
    label: PeriodLabel,
    closed: z.array(Period),
    skipped: z.array(z.object({ tenant: z.string(), reason: z.string() })),
  })
  .openapi('PlatformBillingClose');

export const PeriodParams = params('tenant').extend({ period: PeriodLabel });

/** the longest range one export may cover */
export const MAX_RANGE_DAYS = 366;

export const ExportQuery = z
  .object({
    format: z.enum(FORMATS).default('csv').openapi({ description: 'csv, jsonl or parquet' }),
    period: PeriodLabel.optional().openapi({ description: 'one billing period (YYYY-MM)' }),
    from: timestamp.optional().openapi({
      description: 'instead of a period: records whose slice starts at or after this',
    }),
    to: timestamp.optional().openapi({ description: 'with from: … and before this' }),
  })
  .superRefine((q, ctx) => {
    const range = q.from !== undefined || q.to !== undefined;
    if (q.period && range) {
      ctx.addIssue({
        code: 'custom',
        path: ['period'],
        message: 'give a period or from/to, not both',
      });
    } else if (!q.period && !range) {
      ctx.addIssue({
        code: 'custom',
        path: ['period'],
        message: 'give a period (YYYY-MM) or from and to',
      });
    } else if (range) {
      if (!q.from || !q.to) {
        ctx.addIssue({
          code: 'custom',
          path: [q.from ? 'to' : 'from'],
          message: 'a range needs both from and to',
        });
      } else if (Date.parse(q.from) >= Date.parse(q.to)) {
        ctx.addIssue({ code: 'custom', path: ['to'], message: '"to" must be after "from"' });
      } else if (Date.parse(q.to) - Date.parse(q.from) > MAX_RANGE_DAYS * 86_400_000) {
        ctx.addIssue({
          code: 'custom',
          path: ['to'],
          message: `a range may span at most ${MAX_RANGE_DAYS} days`,
        });
      }
    }
  });
