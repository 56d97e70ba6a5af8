import { describe, expect, it } from 'vitest';
import { canTransition } from '../../src/domain/lifecycle.ts';
import { isTerminal, SESSION_STATES } from '../../src/domain/session-states.ts';

describe('session lifecycle', () => {
  it('follows requested → placed → starting → running → stopping → stopped', () => {
    const path = ['requested', 'placed', 'starting', 'running', 'stopping', 'stopped'] as const;
    for (let i = 1; i < path.length; i++) expect(canTransition(path[i - 1]!, path[i]!)).toBe(true);
  });

  it('can fail from every active state and never leaves an ended one', () => {
    for (const s of SESSION_STATES) {
      expect(canTransition(s, 'failed')).toBe(!isTerminal(s));
      if (isTerminal(s)) for (const t of SESSION_STATES) expect(canTransition(s, t)).toBe(false);
    }
  });

  it('never goes backwards', () => {
    expect(canTransition('running', 'starting')).toBe(false);
    expect(canTransition('stopping', 'running')).toBe(false);
    expect(canTransition('placed', 'requested')).toBe(false);
    for (const s of SESSION_STATES) expect(canTransition(s, 'requested')).toBe(false);
  });

  it('goes unknown while its cluster is unreachable, and takes the cluster’s word after', () => {
    for (const s of ['placed', 'starting', 'running'] as const) {
      expect(canTransition(s, 'unknown')).toBe(true);
    }
    expect(canTransition('stopping', 'unknown')).toBe(false);
    expect(canTransition('requested', 'unknown')).toBe(false);
    for (const s of ['starting', 'running', 'stopping', 'stopped', 'failed'] as const) {
      expect(canTransition('unknown', s)).toBe(true);
    }
  });
});
