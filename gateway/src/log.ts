import { pino } from 'pino';

/**
 * The gateway's logger. `buffered`: lines are written in batches of 4 KiB or once a second,
 * whichever comes first, instead of one write per line: a proxied request's access-log line
 * cost 7 % of its CPU when written alone (docs/benchmarks.md). Pino writes what is buffered
 * when the process exits; a process killed outright loses at most that second of lines.
 */
export function createLogger(level: string, opts: { buffered?: boolean } = {}) {
  const base = { service: 'floe-gateway' };
  if (!opts.buffered) return pino({ level, base });
  const destination = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  setInterval(() => destination.flush(), 1_000).unref();
  return pino({ level, base }, destination);
}
