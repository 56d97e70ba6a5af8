/**
 * A session's state as launch progress: the steps a tile shows (placed → starting → streamer
 * ready) and one line that says what is happening. The first frame is the stream page's job;
 * the launcher offers OPEN once the session runs.
 */
import { endedMessage, stopCause } from '@floe/control/stop-reasons';
import type { Session, SessionEvent, SessionState } from './types.ts';

export type StepStatus = 'done' | 'current' | 'todo' | 'failed';

export interface Step {
  label: string;
  status: StepStatus;
}

/** What the tile is doing: launching (steps), ready (OPEN), stopping, ended or failed. */
export type Phase = 'launching' | 'ready' | 'stopping' | 'ended' | 'failed';

export interface Progress {
  phase: Phase;
  steps: Step[];
  message: string;
}

export const STEP_LABELS = ['Placed on a cluster', 'Starting the app', 'Streamer ready'] as const;

/** Index of the step a state is working on (3: all done). */
const STEP_OF: Record<SessionState, number> = {
  requested: 0,
  placed: 1,
  starting: 1,
  running: 3,
  unknown: 3,
  stopping: 3,
  stopped: 3,
  failed: 3,
};

/** Still on its way to running: worth watching the progress stream. */
export const isLaunching = (state: SessionState): boolean =>
  state === 'requested' || state === 'placed' || state === 'starting';

export function stateLabel(state: SessionState): string {
  switch (state) {
    case 'requested':
      return 'Queued';
    case 'placed':
      return 'Placed';
    case 'starting':
      return 'Starting';
    case 'running':
      return 'Running';
    case 'unknown':
      return 'Unreachable';
    case 'stopping':
      return 'Shutting down';
    case 'stopped':
      return 'Stopped';
    case 'failed':
      return 'Failed';
  }
}

function steps(current: number, failed = false): Step[] {
  return STEP_LABELS.map((label, i) => ({
    label,
    status: i < current ? 'done' : i === current ? (failed ? 'failed' : 'current') : 'todo',
  }));
}

/** How long after its end a stop the user did not ask for is still told on the launcher. */
export const ENDED_TOLD_MS = 60 * 60 * 1000;

/**
 * Whether the launcher tells why this stopped session ended: when the user did not shut it
 * down themselves (idle, its maximum lifetime, an admin, the platform, the app's exit), ended
 * recently, and was not dismissed. `stoppedHere`: sessions this launcher shut down.
 */
export function tellEnded(
  s: Pick<Session, 'id' | 'state' | 'reason' | 'updatedAt'>,
  nowMs: number,
  seen: { dismissed: ReadonlySet<string>; stoppedHere: ReadonlySet<string> },
): boolean {
  if (s.state !== 'stopped' || seen.dismissed.has(s.id) || seen.stoppedHere.has(s.id)) {
    return false;
  }
  if (stopCause(s.state, s.reason) === 'user') return false;
  const endedMs = Date.parse(s.updatedAt);
  return Number.isFinite(endedMs) && nowMs - endedMs < ENDED_TOLD_MS;
}

/** The state a failed session was in when it failed, from its events or the last one seen. */
export function failedFrom(
  events: SessionEvent[] | undefined,
  lastSeen: SessionState | null,
): SessionState | null {
  const failure = events?.findLast((e) => e.to === 'failed');
  return failure?.from ?? (lastSeen === 'failed' ? null : lastSeen);
}

/**
 * The progress of a session in `state`. For a failed one, `failedAfter` (the state it left)
 * places the failure on its step; a failure after running means the app itself ended.
 */
export function launchProgress(
  state: SessionState,
  reason: string | null = null,
  failedAfter: SessionState | null = null,
): Progress {
  const why = reason ? `: ${reason.replace(/[.\s]+$/, '')}` : '';
  switch (state) {
    case 'requested':
      return { phase: 'launching', steps: steps(0), message: 'Finding a GPU cluster…' };
    case 'placed':
      return { phase: 'launching', steps: steps(1), message: 'Placed — starting the app…' };
    case 'starting':
      return { phase: 'launching', steps: steps(1), message: 'Starting the app and streamer…' };
    case 'running':
      return { phase: 'ready', steps: steps(3), message: 'Ready — open it to start streaming' };
    case 'unknown':
      return {
        phase: 'launching',
        steps: steps(2),
        message: 'Its cluster is not answering; the session comes back when the cluster does…',
      };
    case 'stopping':
      return { phase: 'stopping', steps: steps(3), message: 'Shutting down…' };
    case 'stopped':
      return { phase: 'ended', steps: steps(3), message: endedMessage('stopped', reason) };
    case 'failed': {
      const at = failedAfter ? STEP_OF[failedAfter] : 0;
      if (failedAfter === 'running' || failedAfter === 'stopping') {
        return { phase: 'failed', steps: steps(3), message: `The app stopped unexpectedly${why}.` };
      }
      return {
        phase: 'failed',
        steps: steps(Math.min(at, 2), true),
        message: `The launch failed${why}.`,
      };
    }
  }
}
