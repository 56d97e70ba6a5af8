/**
 * Billing months in a tenant's time zone: a period runs from midnight on the 1st, local
 * time, to midnight on the 1st of the next month. Pure: time zones come from Intl.
 */

export interface PeriodBounds {
  /** YYYY-MM of the month in `timeZone` */
  label: string;
  start: Date;
  end: Date;
}

/** Whether Intl knows the IANA zone `tz`. */
export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Local wall-clock fields of the instant `t` in `tz`. */
function wallClock(t: number, tz: string) {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(tz, f);
  }
  const parts = Object.fromEntries(f.formatToParts(t).map((p) => [p.type, p.value]));
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    second: Number(parts.second),
  };
}

/** How far `tz` is ahead of UTC at the instant `t`, in ms. */
function offsetAt(t: number, tz: string): number {
  const w = wallClock(t, tz);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return asUtc - Math.floor(t / 1000) * 1000;
}

/** The instant local midnight of the 1st of `month` (1–12; 13 rolls over) in `tz`. */
export function monthStart(year: number, month: number, tz: string): Date {
  const local = Date.UTC(year, month - 1, 1);
  // two rounds settle the offset in force at that instant (it may differ from the guess's)
  let t = local - offsetAt(local, tz);
  t = local - offsetAt(t, tz);
  return new Date(t);
}

const label = (year: number, month: number) => `${year}-${String(month).padStart(2, '0')}`;

/** The billing month that holds the instant `at` in `tz`. */
export function periodAt(at: Date, tz: string): PeriodBounds {
  const w = wallClock(at.getTime(), tz);
  return {
    label: label(w.year, w.month),
    start: monthStart(w.year, w.month, tz),
    end: monthStart(w.year, w.month + 1, tz),
  };
}

/**
 * The billing month after `prev`, in `tz`. Periods never overlap nor leave a gap, so when
 * the tenant's time zone changed the first period in the new zone starts at `prev.end` and
 * runs to the next local month start; a stub of the month `prev` already named is folded
 * into the following month.
 */
export function periodAfter(prev: { label: string; end: Date }, tz: string): PeriodBounds {
  const p = periodAt(prev.end, tz);
  if (p.start.getTime() === prev.end.getTime()) return p;
  if (p.label !== prev.label) return { ...p, start: prev.end };
  const next = periodAt(p.end, tz);
  return { ...next, start: prev.end };
}

/** `YYYY-MM` → year and month, or null. */
export function parseLabel(text: string): { year: number; month: number } | null {
  const m = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(text);
  return m ? { year: Number(m[1]), month: Number(m[2]) } : null;
}
