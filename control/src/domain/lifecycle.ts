import type { SessionState } from './session-states.ts';

// requested → placed → starting → running → stopping → stopped, and failed from any
// non-terminal state. Stopping may be asked for before the app is running, and a
// driver may report running straight from placed (it skips what it cannot observe).
// `unknown`: the session's cluster cannot be reached; when it returns, the session takes
// whatever state the cluster then reports (a stop asked meanwhile still goes through).
const NEXT: Record<SessionState, readonly SessionState[]> = {
  requested: ['placed', 'stopping', 'failed'],
  placed: ['starting', 'running', 'unknown', 'stopping', 'failed'],
  starting: ['running', 'unknown', 'stopping', 'stopped', 'failed'],
  running: ['unknown', 'stopping', 'stopped', 'failed'],
  unknown: ['starting', 'running', 'stopping', 'stopped', 'failed'],
  stopping: ['stopped', 'failed'],
  stopped: [],
  failed: [],
};

export function canTransition(from: SessionState, to: SessionState): boolean {
  return NEXT[from].includes(to);
}
