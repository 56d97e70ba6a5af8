/**
 * The warning a viewer sees before an idle stop, decided here because the streamer holds the
 * idle clock: whoever stops idle sessions (the operator's probe, the local runner) reads the
 * same `lastInputAt` from /healthz, so an "I'm still here" that resets it here resets it for
 * them too. Pure: the streamer's timer and the tests call these with the clock's value.
 */

/**
 * How many seconds before a stop viewers are warned: the setting, unless that would warn for
 * most of a short timeout (a 60 s timeout with the default 60 s lead would warn at once);
 * then half the timeout. Never more than the timeout itself.
 */
export function warningLead(timeoutSeconds: number, settingSeconds: number): number {
  if (settingSeconds <= 0 || timeoutSeconds <= 0) return 0;
  return settingSeconds < timeoutSeconds ? settingSeconds : Math.floor(timeoutSeconds / 2);
}

export interface IdleClock {
  /** the app's idle timeout in seconds; null: the session is never stopped for idleness */
  timeoutSeconds: number | null;
  /** the lead of warningLead() */
  leadSeconds: number;
  /** Unix ms the streamer started (the idle clock of a session nobody touched yet) */
  startedAtMs: number;
  /** Unix ms of the last input (or "I'm still here"); null before any */
  lastInputAtMs: number | null;
}

export type IdleWarning =
  /** no warning; look again in `checkInMs` (null: never, there is no idle timeout) */
  | { warn: false; checkInMs: number | null }
  /** warn: the stop is due in `secondsLeft` (0 once overdue: the stop comes at the next probe) */
  | { warn: true; secondsLeft: number; checkInMs: number };

/** Whether viewers should see the idle warning now, and when to look again. */
export function idleWarning(clock: IdleClock, nowMs: number): IdleWarning {
  if (!clock.timeoutSeconds) return { warn: false, checkInMs: null };
  const since = Math.max(clock.startedAtMs, clock.lastInputAtMs ?? 0);
  const stopAtMs = since + clock.timeoutSeconds * 1000;
  const warnAtMs = stopAtMs - clock.leadSeconds * 1000;
  if (clock.leadSeconds <= 0) return { warn: false, checkInMs: null };
  if (nowMs < warnAtMs) return { warn: false, checkInMs: warnAtMs - nowMs };
  const leftMs = Math.max(0, stopAtMs - nowMs);
  // the page counts down by itself; a look each second keeps late joiners in step
  return { warn: true, secondsLeft: Math.ceil(leftMs / 1000), checkInMs: 1000 };
}
