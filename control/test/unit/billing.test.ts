import { describe, expect, it } from 'vitest';
import { monthStart, periodAfter, periodAt } from '../../src/billing/calendar.ts';
import { formatDecimal, mulDivRound, parseDecimal } from '../../src/billing/decimal.ts';
import { amountOf, cardFor, type RateCardLike } from '../../src/billing/pricing.ts';
import {
  type PeriodRef,
  planRecords,
  type StateChange,
  sliceSession,
} from '../../src/billing/slices.ts';

const T = (s: string) => new Date(s);

describe('decimals', () => {
  it.each([
    ['1.25', 6, 1_250_000n, '1.250000'],
    ['0', 3, 0n, '0.000'],
    ['-0.5', 3, -500n, '-0.500'],
    ['123456789012.123456', 6, 123456789012123456n, '123456789012.123456'],
  ])('%s at scale %i', (text, scale, value, formatted) => {
    expect(parseDecimal(text, scale)).toBe(value);
    expect(formatDecimal(value, scale)).toBe(formatted);
  });
  it('refuses what is not a decimal or too precise', () => {
    expect(() => parseDecimal('1e3', 3)).toThrow(/not a decimal/);
    expect(() => parseDecimal('0.1234', 3)).toThrow(/more than 3 decimals/);
  });
  it.each([
    [7n, 1n, 2n, 4n],
    [5n, 1n, 2n, 3n],
    [-5n, 1n, 2n, -3n],
    [4n, 1n, 3n, 1n],
  ])('%i × %i / %i rounds half away from zero to %i', (a, b, d, q) => {
    expect(mulDivRound(a, b, d)).toBe(q);
  });
});

describe('billing months', () => {
  it.each([
    // at, zone, label, start, end
    ['2026-11-15T12:00:00Z', 'UTC', '2026-11', '2026-11-01T00:00:00Z', '2026-12-01T00:00:00Z'],
    ['2026-12-31T23:59:59Z', 'UTC', '2026-12', '2026-12-01T00:00:00Z', '2027-01-01T00:00:00Z'],
    // 1 Dec 03:00 UTC is still 30 Nov in New York (UTC−5)
    [
      '2026-12-01T03:00:00Z',
      'America/New_York',
      '2026-11',
      '2026-11-01T04:00:00Z',
      '2026-12-01T05:00:00Z',
    ],
    // Tokyo (UTC+9): the month starts the evening before in UTC
    [
      '2026-01-31T16:00:00Z',
      'Asia/Tokyo',
      '2026-02',
      '2026-01-31T15:00:00Z',
      '2026-02-28T15:00:00Z',
    ],
    // March in Berlin: CET at the start, CEST at the end
    [
      '2026-03-15T00:00:00Z',
      'Europe/Berlin',
      '2026-03',
      '2026-02-28T23:00:00Z',
      '2026-03-31T22:00:00Z',
    ],
  ])('%s in %s is %s', (at, tz, label, start, end) => {
    const p = periodAt(T(at), tz);
    expect(p.label).toBe(label);
    expect(p.start.toISOString()).toBe(T(start).toISOString());
    expect(p.end.toISOString()).toBe(T(end).toISOString());
  });
  it('rolls month 13 into January', () => {
    expect(monthStart(2026, 13, 'UTC').toISOString()).toBe('2027-01-01T00:00:00.000Z');
  });
  it.each([
    // previous period, new zone → next period (no gap, no overlap, no label twice)
    [
      '2026-11',
      '2026-12-01T00:00:00Z',
      'UTC',
      '2026-12',
      '2026-12-01T00:00:00Z',
      '2027-01-01T00:00:00Z',
    ],
    // UTC → New York: 1 Dec 00:00 UTC is still November there, so December runs long
    [
      '2026-11',
      '2026-12-01T00:00:00Z',
      'America/New_York',
      '2026-12',
      '2026-12-01T00:00:00Z',
      '2027-01-01T05:00:00Z',
    ],
    // New York → UTC: December starts where November ended, 5 hours into the UTC month
    [
      '2026-11',
      '2026-12-01T05:00:00Z',
      'UTC',
      '2026-12',
      '2026-12-01T05:00:00Z',
      '2027-01-01T00:00:00Z',
    ],
  ])('after %s ending %s in %s comes %s', (prev, end, tz, label, start, stop) => {
    const p = periodAfter({ label: prev, end: T(end) }, tz);
    expect([p.label, p.start.toISOString(), p.end.toISOString()]).toEqual([
      label,
      T(start).toISOString(),
      T(stop).toISOString(),
    ]);
  });
});

const oct: PeriodRef = {
  id: 'oct',
  start: T('2026-10-01T00:00:00Z'),
  end: T('2026-11-01T00:00:00Z'),
  state: 'closed',
};
const nov: PeriodRef = {
  id: 'nov',
  start: T('2026-11-01T00:00:00Z'),
  end: T('2026-12-01T00:00:00Z'),
  state: 'open',
};
const dec: PeriodRef = {
  id: 'dec',
  start: T('2026-12-01T00:00:00Z'),
  end: T('2027-01-01T00:00:00Z'),
  state: 'open',
};
const periods = [oct, nov, dec];
let nextId = 1;
const ev = (toState: StateChange['toState'], at: string): StateChange => ({
  id: nextId++,
  toState,
  at: T(at),
});

describe('sliceSession', () => {
  const now = T('2026-12-10T00:00:00Z');
  it.each<[string, StateChange[], [string, string, string, number][]]>([
    [
      'a session within one period',
      [
        ev('placed', '2026-11-02T10:00:00Z'),
        ev('running', '2026-11-02T10:00:05Z'),
        ev('stopped', '2026-11-02T11:00:05Z'),
      ],
      [['nov', '2026-11-02T10:00:05Z', '2026-11-02T11:00:05Z', 3_600_000]],
    ],
    [
      'a session across a boundary is split',
      [ev('running', '2026-10-31T23:00:00Z'), ev('stopped', '2026-11-01T01:30:00Z')],
      [
        ['oct', '2026-10-31T23:00:00Z', '2026-11-01T00:00:00Z', 3_600_000],
        ['nov', '2026-11-01T00:00:00Z', '2026-11-01T01:30:00Z', 5_400_000],
      ],
    ],
    [
      'a live session counts up to now',
      [ev('running', '2026-11-30T23:00:00Z')],
      [
        ['nov', '2026-11-30T23:00:00Z', '2026-12-01T00:00:00Z', 3_600_000],
        ['dec', '2026-12-01T00:00:00Z', '2026-12-10T00:00:00Z', 9 * 86_400_000],
      ],
    ],
    [
      'time unknown (cluster unreachable) is not billed; one slice sums both spans',
      [
        ev('running', '2026-11-05T00:00:00Z'),
        ev('unknown', '2026-11-05T01:00:00Z'),
        ev('running', '2026-11-05T02:00:00Z'),
        ev('stopping', '2026-11-05T02:30:00Z'),
        ev('stopped', '2026-11-05T02:30:01Z'),
      ],
      [['nov', '2026-11-05T00:00:00Z', '2026-11-05T02:30:00Z', 5_400_000]],
    ],
    [
      'a session that never ran',
      [ev('placed', '2026-11-05T00:00:00Z'), ev('failed', '2026-11-05T00:01:00Z')],
      [],
    ],
  ])('%s', (_, events, expected) => {
    const slices = sliceSession(events, periods, now).map((s) => [
      s.periodId,
      s.start.toISOString(),
      s.end.toISOString(),
      s.ms,
    ]);
    expect(slices).toEqual(
      expected.map(([p, a, b, ms]) => [p, T(a).toISOString(), T(b).toISOString(), ms]),
    );
  });
});

describe('planRecords', () => {
  const slice = (periodId: string, ms: number) => ({
    periodId,
    start: T('2026-10-31T00:00:00Z'),
    end: T('2026-10-31T01:00:00Z'),
    ms,
  });
  it.each<
    [
      string,
      ReturnType<typeof slice>[],
      [string, number][],
      [string, string, string | null, number][],
    ]
  >([
    [
      'open periods are booked as derived',
      [slice('nov', 1000), slice('dec', 5)],
      [],
      [
        ['usage', 'nov', null, 1000],
        ['usage', 'dec', null, 5],
      ],
    ],
    [
      'a closed period that froze the same time needs nothing',
      [slice('oct', 1000)],
      [['oct', 1000]],
      [],
    ],
    [
      'late usage of a closed period is an adjustment in the next open one',
      [slice('oct', 1500)],
      [['oct', 1000]],
      [['adjustment', 'nov', 'oct', 500]],
    ],
    [
      'usage a closed period never saw at all',
      [slice('oct', 700)],
      [],
      [['adjustment', 'nov', 'oct', 700]],
    ],
    [
      'a backdated stop credits the difference',
      [slice('oct', 400)],
      [['oct', 1000]],
      [['adjustment', 'nov', 'oct', -600]],
    ],
    [
      'frozen time the events no longer show is credited whole',
      [],
      [['oct', 1000]],
      [['adjustment', 'nov', 'oct', -1000]],
    ],
  ])('%s', (_, slices, frozen, expected) => {
    const planned = planRecords(slices, periods, new Map(frozen));
    expect(planned.map((r) => [r.kind, r.periodId, r.adjustsPeriodId, r.ms])).toEqual(expected);
  });
});

describe('pricing', () => {
  const card = (tenantId: string | null, from: string, extra: Partial<RateCardLike> = {}) => ({
    id: `${tenantId ?? 'default'}-${from}`,
    tenantId,
    currency: 'EUR',
    effectiveFrom: T(from),
    sessionHour: '0.50',
    appSessionHour: { blender: '1.25' },
    classSessionHour: { workstation: '0.80', blender: '9' },
    gpuHour: { 'nvidia-a100': '2.10' },
    ...extra,
  });
  const cards = [
    card(null, '2026-01-01T00:00:00Z'),
    card(null, '2026-06-01T00:00:00Z'),
    card('t', '2026-09-01T00:00:00Z'),
  ];
  it.each([
    ['2025-12-31T00:00:00Z', null],
    ['2026-03-01T00:00:00Z', 'default-2026-01-01T00:00:00Z'],
    ['2026-07-01T00:00:00Z', 'default-2026-06-01T00:00:00Z'],
    ['2026-09-01T00:00:00Z', 't-2026-09-01T00:00:00Z'],
  ])('the card in force at %s is %s', (at, id) => {
    expect(cardFor(cards, T(at))?.id ?? null).toBe(id);
  });
  it.each([
    // app, class, sku, session ms, gpu ms → millionths
    ['terminal', null, null, 3_600_000n, 0n, 500_000n],
    ['blender', null, 'nvidia-a100', 1_800_000n, 3_600_000n, 625_000n + 2_100_000n],
    ['terminal', null, 'unpriced-sku', 3_600_000n, 3_600_000n, 500_000n],
    // one millisecond at 0.50/hour is 0.000139 (rounded half up from 0.0001388…)
    ['terminal', null, null, 1n, 0n, 0n],
    ['terminal', null, null, 1000n, 0n, 139n],
    // the class's price when the app has none of its own; the app's own before its class's
    ['cad', 'workstation', null, 3_600_000n, 0n, 800_000n],
    ['blender', 'workstation', null, 3_600_000n, 0n, 1_250_000n],
    ['cad', 'unpriced-class', null, 3_600_000n, 0n, 500_000n],
    // names of Object.prototype are no prices
    ['constructor', 'toString', '__proto__', 3_600_000n, 3_600_000n, 500_000n],
  ])(
    '%s (class %s) / %s: %i ms, %i GPU-ms → %i',
    (appSlug, appClass, gpuSku, sessionMs, gpuMs, amount) => {
      expect(
        amountOf(card(null, '2026-01-01T00:00:00Z'), {
          appSlug,
          appClass,
          gpuSku,
          sessionMs,
          gpuMs,
        }),
      ).toBe(amount);
    },
  );
  it('costs nothing without a card', () => {
    const use = { appSlug: 'a', appClass: null, gpuSku: null, sessionMs: 10n, gpuMs: 0n };
    expect(amountOf(null, use)).toBe(0n);
  });
});
