import type { SessionState } from '../db/schema.ts';

export const ACTIVE_STATES = ['requested', 'placed', 'starting', 'running', 'stopping'] as const;

// requested → placed → starting → running → stopping → stopped, and failed from any
// non-terminal state. Stopping may be asked for before the app is running, and a
// driver may report running straight from placed (it skips what it cannot observe).
const NEXT: Record<SessionState, readonly SessionState[]> = {
  requested: ['placed', 'stopping', 'failed'],
  placed: ['starting', 'running', 'stopping', 'failed'],
  starting: ['running', 'stopping', 'stopped', 'failed'],
  running: ['stopping', 'stopped', 'failed'],
  stopping: ['stopped', 'failed'],
  stopped: [],
  failed: [],
};

export function canTransition(from: SessionState, to: SessionState): boolean {
  return NEXT[from].includes(to);
}

export function isActive(state: SessionState): boolean {
  return (ACTIVE_STATES as readonly string[]).includes(state);
}
