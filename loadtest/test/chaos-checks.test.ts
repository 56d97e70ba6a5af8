import { describe, expect, it } from 'vitest';
import {
  brokenChains,
  type EventFact,
  mismatched,
  peakGpus,
  serverErrors,
  stuck,
  usageSeconds,
} from '../chaos-checks.ts';

let seq = 0;
const ev = (sessionId: string, from: string | null, to: string, atS: number): EventFact => ({
  seq: ++seq,
  sessionId,
  from,
  to,
  atMs: atS * 1000,
});
const life = (id: string, start: number, run: number, stop: number): EventFact[] => [
  ev(id, null, 'requested', start),
  ev(id, 'requested', 'placed', start),
  ev(id, 'placed', 'running', run),
  ev(id, 'running', 'stopping', stop),
  ev(id, 'stopping', 'stopped', stop + 1),
];

describe('the chaos checks', () => {
  it('finds sessions stuck in a non-terminal state', () => {
    expect(
      stuck([
        { id: 'a', state: 'stopped', gpuCount: 1 },
        { id: 'b', state: 'running', gpuCount: 1 },
        { id: 'c', state: 'failed', gpuCount: 1 },
        { id: 'd', state: 'stopping', gpuCount: 0 },
      ]),
    ).toEqual(['b', 'd']);
  });

  it('finds event chains with a transition lost or written twice, or ending elsewhere', () => {
    const good = life('good', 0, 2, 10);
    const twice = life('twice', 0, 2, 10);
    twice.splice(3, 0, ev('twice', 'placed', 'running', 3));
    const lost = life('lost', 0, 2, 10).filter((e) => e.to !== 'stopping');
    const elsewhere = life('elsewhere', 0, 2, 10);
    const sessions = ['good', 'twice', 'lost', 'elsewhere', 'none'].map((id) => ({
      id,
      state: id === 'elsewhere' ? 'failed' : 'stopped',
      gpuCount: 1,
    }));
    expect(brokenChains(sessions, [...good, ...twice, ...lost, ...elsewhere])).toEqual([
      'twice',
      'lost',
      'elsewhere',
      'none',
    ]);
  });

  it('recomputes session-seconds from running to the next event, clipped to the window', () => {
    const events = [...life('a', 0, 2, 10), ...life('b', 5, 6, 20)];
    expect(usageSeconds(events, 0, 100_000)).toBe(8 + 14);
    expect(usageSeconds(events, 8_000, 12_000)).toBe(2 + 4);
  });

  it('finds the most GPUs held at once, from admission to the end', () => {
    const sessions = [
      { id: 'a', state: 'stopped', gpuCount: 1 },
      { id: 'b', state: 'stopped', gpuCount: 2 },
      { id: 'c', state: 'stopped', gpuCount: 1 },
      { id: 'cpu', state: 'stopped', gpuCount: 0 },
    ];
    const events = [
      ...life('a', 0, 1, 10), // holds 0–11
      ...life('b', 5, 6, 8), // holds 5–9
      ...life('c', 12, 13, 14), // holds 12–15: a has ended
      ...life('cpu', 0, 1, 20),
    ];
    expect(peakGpus(sessions, events)).toBe(3);
  });

  it('matches resources and active sessions both ways', () => {
    expect(mismatched(new Set(['a', 'b']), new Set(['b', 'x']))).toEqual({
      withoutSession: ['x'],
      withoutResource: ['a'],
    });
  });

  it('counts 5xx, those outside the incidents, and requests that never got an answer', () => {
    const lines = [
      { kind: 'launch' as const, i: 1, attempt: 0, status: 503, t: 10_000 },
      { kind: 'launch' as const, i: 1, attempt: 1, status: 201, t: 10_500 },
      { kind: 'stop' as const, i: 2, attempt: 0, status: 0, t: 50_000 },
      { kind: 'stop' as const, i: 2, attempt: 1, status: 503, t: 50_500, code: 'busy' },
      { kind: 'stop' as const, i: 3, attempt: 0, status: 202, t: 50_600 },
    ];
    expect(serverErrors(lines, [{ atMs: 9_000, untilMs: 9_500 }], 3_000, 1_000)).toEqual({
      total: 3,
      outsideIncidents: 2,
      unanswered: ['stop/2: 0@49000ms, 503 busy@49500ms'],
    });
  });
});
