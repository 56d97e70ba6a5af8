/**
 * From a session's state changes to its billable time per billing period: pure functions,
 * the I/O is in usage-records.ts. A session is billed while `running`, from that event to
 * the next one (or to `now`), exactly as floe_usage_spans (drizzle/0001_admission.sql)
 * counts it for quotas.
 */
import type { SessionState } from '../db/schema.ts';

export interface StateChange {
  id: number;
  toState: SessionState;
  at: Date;
}

export interface PeriodRef {
  id: string;
  start: Date;
  end: Date;
  state: 'open' | 'closed';
}

/** A session's time in one period: its first and last billed instants there, and the sum. */
export interface Slice {
  periodId: string;
  start: Date;
  end: Date;
  ms: number;
}

/** Billed spans [from, to) of one session's events (ordered by id). */
export function runningSpans(events: StateChange[], now: Date): { from: number; to: number }[] {
  const spans: { from: number; to: number }[] = [];
  for (let i = 0; i < events.length; i++) {
    const e = events[i] as StateChange;
    if (e.toState !== 'running') continue;
    const from = e.at.getTime();
    const to = (events[i + 1]?.at ?? now).getTime();
    if (to > from) spans.push({ from, to });
  }
  return spans;
}

/** One session's slices: its spans cut at period boundaries, one slice per period touched. */
export function sliceSession(events: StateChange[], periods: PeriodRef[], now: Date): Slice[] {
  const spans = runningSpans(events, now);
  const slices: Slice[] = [];
  for (const p of periods) {
    const ps = p.start.getTime();
    const pe = p.end.getTime();
    let first = Number.POSITIVE_INFINITY;
    let last = Number.NEGATIVE_INFINITY;
    let ms = 0;
    for (const s of spans) {
      const from = Math.max(s.from, ps);
      const to = Math.min(s.to, pe);
      if (to <= from) continue;
      first = Math.min(first, from);
      last = Math.max(last, to);
      ms += to - from;
    }
    if (ms > 0) slices.push({ periodId: p.id, start: new Date(first), end: new Date(last), ms });
  }
  return slices;
}

export interface PlannedRecord {
  kind: 'usage' | 'adjustment';
  /** the (open) period the record is booked in */
  periodId: string;
  /** for an adjustment: the closed period whose usage it is */
  adjustsPeriodId: string | null;
  start: Date;
  end: Date;
  ms: number;
}

/**
 * What one session's records in the open periods should be. Slices of open periods are
 * booked as they are. A closed period's records never change, so where its slice now
 * differs from what it froze (`frozenMs`: its usage plus adjustments already booked in
 * closed periods), the difference is an adjustment in the first open period after it.
 */
export function planRecords(
  slices: Slice[],
  periods: PeriodRef[],
  frozenMs: Map<string, number>,
): PlannedRecord[] {
  const byId = new Map(periods.map((p) => [p.id, p]));
  const out: PlannedRecord[] = [];
  const closedSeen = new Set<string>();
  for (const s of slices) {
    const p = byId.get(s.periodId);
    if (!p) continue;
    if (p.state === 'open') {
      out.push({ kind: 'usage', adjustsPeriodId: null, ...s });
      continue;
    }
    closedSeen.add(p.id);
    const delta = s.ms - (frozenMs.get(p.id) ?? 0);
    if (delta !== 0) out.push(adjustment(p, periods, s.start, s.end, delta));
  }
  // a closed period that froze usage the events no longer show (a backdated stop): a credit
  for (const [periodId, ms] of frozenMs) {
    const p = byId.get(periodId);
    if (!p || closedSeen.has(periodId) || ms === 0) continue;
    out.push(adjustment(p, periods, p.start, p.start, -ms));
  }
  return out.filter((r): r is PlannedRecord => r.periodId !== '');
}

function adjustment(
  closed: PeriodRef,
  periods: PeriodRef[],
  start: Date,
  end: Date,
  ms: number,
): PlannedRecord {
  const target = periods.find((q) => q.state === 'open' && q.start >= closed.end);
  return {
    kind: 'adjustment',
    periodId: target?.id ?? '',
    adjustsPeriodId: closed.id,
    start,
    end,
    ms,
  };
}
