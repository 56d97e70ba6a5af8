// The access log of the fast path (sessions/fast-path.ts): a stream's own requests, answered
// without an error, are counted and written as one line per session, user, method and status
// each second instead of one line each. Building and writing a JSON line per request was a
// tenth of a proxied request's CPU (docs/benchmarks.md), and a stream page that polls or
// loads assets makes many alike. Nothing goes unaccounted: every request is in a count, with
// its mean and longest time; an answer of 400 or more still gets its own line at once
// (recordRequest), and so does every WebSocket upgrade. The metrics stay per request.
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.ts';
import { type AccessEntry, recordRequest, type Samplers, samplersOf } from './access-log.ts';

/** The requests of one session, user, method and status in the current second. */
interface Tally {
  method: string;
  status: number;
  user: string;
  count: number;
  msTotal: number;
  msMax: number;
}

/** One summary line: what `flush` writes for each tally. */
export interface SummaryLine {
  method: string;
  /** the session's requests, /sessions/{id}/* (paths within it are not told apart) */
  path: string;
  status: number;
  user: string;
  count: number;
  /** mean and longest time to answer, ms (one decimal) */
  ms: number;
  msMax: number;
}

const round = (ms: number) => Math.round(ms * 10) / 10;

/**
 * PURE (no I/O): counts requests by session, then by user, method and status, and hands
 * back one line for each at `drain`.
 */
export class RequestTallies {
  // by session id: sessions have few users, methods and statuses at a time, so the tallies
  // of one are a short list, found without building a key string per request
  private readonly bySession = new Map<string, Tally[]>();

  add(sessionId: string, method: string, status: number, user: string, ms: number) {
    let tallies = this.bySession.get(sessionId);
    if (!tallies) {
      tallies = [];
      this.bySession.set(sessionId, tallies);
    }
    for (const t of tallies) {
      if (t.status === status && t.method === method && t.user === user) {
        t.count++;
        t.msTotal += ms;
        if (ms > t.msMax) t.msMax = ms;
        return;
      }
    }
    tallies.push({ method, status, user, count: 1, msTotal: ms, msMax: ms });
  }

  /** The lines of everything counted since the last drain; the counts start again. */
  drain(): SummaryLine[] {
    const lines: SummaryLine[] = [];
    for (const [id, tallies] of this.bySession) {
      for (const t of tallies) {
        lines.push({
          method: t.method,
          path: `/sessions/${id}/*`,
          status: t.status,
          user: t.user,
          count: t.count,
          ms: round(t.msTotal / t.count),
          msMax: round(t.msMax),
        });
      }
    }
    this.bySession.clear();
    return lines;
  }
}

/** The fast path's requests, as metrics at once and as summary lines each `intervalMs`. */
export class AccessSummary {
  private readonly tallies = new RequestTallies();
  private readonly log: Logger;
  private readonly metrics: Metrics;
  private readonly route: string;
  private readonly timer: NodeJS.Timeout;

  constructor(opts: { log: Logger; metrics: Metrics; route: string; intervalMs?: number }) {
    this.log = opts.log;
    this.metrics = opts.metrics;
    this.route = opts.route;
    this.timer = setInterval(() => this.flush(), opts.intervalMs ?? 1_000);
    this.timer.unref();
  }

  /** One request of session `sessionId` at `path`, answered with `status` after `ms`. */
  record(sessionId: string, e: Omit<AccessEntry, 'route'>) {
    if (e.status >= 400 || e.upgrade) {
      recordRequest(this.log, this.metrics, { ...e, route: this.route });
      return;
    }
    const s = this.samplers(e.method, e.status);
    s.count.inc();
    s.duration.observe(e.ms / 1000);
    this.tallies.add(sessionId, e.method, e.status, e.user ?? '', e.ms);
  }

  // the metrics' children of the last method and status: a stream's requests are nearly all
  // GET 200, and this spares building samplersOf's key string for each
  private last: { method: string; status: number; samplers: Samplers } | null = null;

  private samplers(method: string, status: number): Samplers {
    const last = this.last;
    if (last !== null && last.status === status && last.method === method) return last.samplers;
    const samplers = samplersOf(this.metrics, method, this.route, status);
    this.last = { method, status, samplers };
    return samplers;
  }

  /** Writes the summary lines of what was counted since the last time. */
  flush() {
    for (const line of this.tallies.drain()) this.log.info(line, 'requests');
  }

  close() {
    clearInterval(this.timer);
    this.flush();
  }
}
