import type { DriverRef, SessionState } from '../db/schema.ts';
import { canTransition } from '../domain/lifecycle.ts';
import { idleVerdict } from '../domain/local-processes.ts';
import { isTerminal } from '../domain/session-states.ts';
import { STOP_REASONS } from '../domain/stop-reasons.ts';
import type { Observation } from '../drivers/driver.ts';

/** What the database says a session should be, as far as its next step depends on it. */
export interface SessionFacts {
  state: SessionState;
  /**
   * When it first ran (its first `running` event): the one clock of its maximum lifetime,
   * so that time spent waiting for a node or pulling an image does not count against it.
   */
  runningAt: Date | null;
  maxLifetimeSeconds: number | null;
  idleTimeoutSeconds: number | null;
}

/** The one thing to do now to bring a session and its cluster closer together. */
export type Step =
  | { do: 'nothing'; requeueAfterMs?: number }
  /** ask the cluster to run it */
  | { do: 'launch' }
  /** write what the cluster says into the session's row (a state transition) */
  | {
      do: 'record';
      to: SessionState;
      reason?: string;
      exitCode?: number;
      endpoint?: string;
      ref?: DriverRef;
    }
  /** Floe itself ends it: the session moves to stopping (audited as the system) */
  | { do: 'stop'; reason: string }
  /** ask the cluster to remove what it runs or keeps for the session */
  | { do: 'terminate' };

const NOTHING: Step = { do: 'nothing' };
const LIFETIME_REASON = STOP_REASONS.lifetime;

/**
 * The next step for one session, from its row (null: no session of that id) and what its
 * cluster's driver observes now. Pure and level-triggered: called again after the step,
 * or when anything changes, it goes on from wherever things are.
 */
export function nextStep(session: SessionFacts | null, seen: Observation, now: Date): Step {
  const present = seen.seen === 'present' ? seen : null;
  // ended or unknown to Floe (an orphan a crash left): whatever the cluster keeps goes
  if (!session || isTerminal(session.state)) {
    return present && !present.ending ? { do: 'terminate' } : NOTHING;
  }
  if (seen.seen === 'unknown') {
    // what ran may have ended meanwhile; a launch or a stop waits for the cluster
    const ran = session.state === 'starting' || session.state === 'running';
    return ran && seen.unreachable !== null
      ? { do: 'record', to: 'unknown', reason: seen.unreachable }
      : NOTHING;
  }
  switch (session.state) {
    case 'stopping':
      // the reason stays who or what asked for the stop, unless it failed on the way
      if (!present || present.state === 'stopped') return { do: 'record', to: 'stopped' };
      if (present.state === 'failed') return observed(present);
      return present.ending ? NOTHING : { do: 'terminate' };
    case 'requested':
    case 'placed':
      return present ? observed(present, session.state) : { do: 'launch' };
    default: {
      // starting, running, unknown: it ran, so its absence means it was lost
      if (seen.seen === 'absent') return { do: 'record', to: 'failed', reason: seen.vanished };
      const change = observed(seen, session.state);
      if (change.do !== 'nothing' || session.state !== 'running') return change;
      return limits(session, seen, now);
    }
  }
}

/** Records what the cluster reports, when the lifecycle allows that move from `from`. */
function observed(present: Extract<Observation, { seen: 'present' }>, from?: SessionState): Step {
  if (from && (present.state === from || !canTransition(from, present.state))) return NOTHING;
  return {
    do: 'record',
    to: present.state,
    ...(present.endpoint !== undefined && { endpoint: present.endpoint }),
    ...(present.ref !== undefined && { ref: present.ref }),
    ...ended(present),
  };
}

function ended(present: { reason?: string; exitCode?: number }) {
  return {
    ...(present.reason !== undefined && { reason: present.reason }),
    ...(present.exitCode !== undefined && { exitCode: present.exitCode }),
  };
}

/** A running session's limits: its maximum lifetime, then its idle timeout. */
function limits(
  session: SessionFacts,
  { lastInputMs, lastInputAskedMs }: { lastInputMs?: number | null; lastInputAskedMs?: number },
  now: Date,
): Step {
  const since = session.runningAt?.getTime() ?? now.getTime();
  let requeueAfterMs: number | undefined;
  if (session.maxLifetimeSeconds) {
    const left = since + session.maxLifetimeSeconds * 1000 - now.getTime();
    if (left <= 0) return { do: 'stop', reason: LIFETIME_REASON };
    requeueAfterMs = left;
  }
  const idle = idleVerdict({
    idleTimeoutSeconds: session.idleTimeoutSeconds,
    runningSinceMs: since,
    lastInput:
      lastInputMs === undefined ? undefined : lastInputMs === null ? null : new Date(lastInputMs),
    ...(lastInputAskedMs !== undefined && { askedAtMs: lastInputAskedMs }),
    nowMs: now.getTime(),
  });
  if (idle.stop) return { do: 'stop', reason: idle.reason };
  return requeueAfterMs === undefined ? NOTHING : { do: 'nothing', requeueAfterMs };
}
