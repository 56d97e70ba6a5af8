import { describe, expect, it } from 'vitest';
import type { Observation } from '../../src/drivers/driver.ts';
import { nextStep, type SessionFacts, type Step } from '../../src/sessions/next-step.ts';

const now = new Date('2026-12-06T12:00:00Z');
const ago = (s: number) => new Date(now.getTime() - s * 1000);

const row = (state: SessionFacts['state'], more: Partial<SessionFacts> = {}): SessionFacts => ({
  state,
  runningAt: state === 'running' ? ago(60) : null,
  maxLifetimeSeconds: null,
  idleTimeoutSeconds: null,
  ...more,
});

const unreachable: Observation = { seen: 'unknown', unreachable: 'its cluster is unreachable' };
const notYet: Observation = { seen: 'unknown', unreachable: null };
const absent: Observation = { seen: 'absent', vanished: 'its Session resource vanished' };
const present = (
  state: 'starting' | 'running' | 'stopped' | 'failed',
  more: Partial<Extract<Observation, { seen: 'present' }>> = {},
): Observation => ({ seen: 'present', state, ending: false, ...more });

describe('nextStep', () => {
  const cases: [string, SessionFacts | null, Observation, Step][] = [
    // launching
    [
      'a placed session the cluster does not run is launched',
      row('placed'),
      absent,
      { do: 'launch' },
    ],
    [
      'a placed session the cluster starts is starting',
      row('placed'),
      present('starting'),
      { do: 'record', to: 'starting' },
    ],
    [
      'a placed session may go straight to running, with its endpoint and ref',
      row('placed'),
      present('running', { endpoint: 'http://10.0.0.7:8080/', ref: { namespace: 'floe-t' } }),
      {
        do: 'record',
        to: 'running',
        endpoint: 'http://10.0.0.7:8080/',
        ref: { namespace: 'floe-t' },
      },
    ],
    [
      'a launch waits while the cluster is unreachable',
      row('placed'),
      unreachable,
      { do: 'nothing' },
    ],
    [
      'nothing is decided before the cluster first answers',
      row('running'),
      notYet,
      { do: 'nothing' },
    ],
    // running and lost
    [
      'a starting session that runs is running',
      row('starting'),
      present('running', { endpoint: 'http://e/' }),
      { do: 'record', to: 'running', endpoint: 'http://e/' },
    ],
    [
      'a running session seen running: nothing',
      row('running'),
      present('running'),
      { do: 'nothing' },
    ],
    [
      'a running session seen starting again (a restart) stays running',
      row('running'),
      present('starting'),
      { do: 'nothing' },
    ],
    [
      'a running session whose cluster is unreachable is unknown',
      row('running'),
      unreachable,
      { do: 'record', to: 'unknown', reason: 'its cluster is unreachable' },
    ],
    [
      'an unknown session stays unknown while the cluster is away',
      row('unknown'),
      unreachable,
      { do: 'nothing' },
    ],
    [
      'an unknown session takes what the returned cluster says',
      row('unknown'),
      present('running'),
      { do: 'record', to: 'running' },
    ],
    [
      'a session that ran and is gone failed (lost resource)',
      row('running'),
      absent,
      { do: 'record', to: 'failed', reason: 'its Session resource vanished' },
    ],
    [
      'an unknown session whose resource is gone on return failed',
      row('unknown'),
      absent,
      { do: 'record', to: 'failed', reason: 'its Session resource vanished' },
    ],
    [
      'an app that exited is stopped with its exit code',
      row('running'),
      present('stopped', { reason: 'the app exited', exitCode: 0 }),
      { do: 'record', to: 'stopped', reason: 'the app exited', exitCode: 0 },
    ],
    [
      'a crash is failed with its reason',
      row('starting'),
      present('failed', { reason: 'ErrImagePull', exitCode: 3 }),
      { do: 'record', to: 'failed', reason: 'ErrImagePull', exitCode: 3 },
    ],
    // stop requested
    [
      'a stop asks the cluster to remove it',
      row('stopping'),
      present('running'),
      { do: 'terminate' },
    ],
    [
      'a stop under way waits',
      row('stopping'),
      present('running', { ending: true }),
      { do: 'nothing' },
    ],
    ['a stop waits for an unreachable cluster', row('stopping'), unreachable, { do: 'nothing' }],
    [
      'a stopped session keeps who stopped it as its reason',
      row('stopping'),
      absent,
      { do: 'record', to: 'stopped' },
    ],
    [
      'a session that ended by itself while stopping is stopped',
      row('stopping'),
      present('stopped', { reason: 'the app exited' }),
      { do: 'record', to: 'stopped' },
    ],
    [
      'a session that failed while stopping is failed',
      row('stopping'),
      present('failed', { reason: 'killed' }),
      { do: 'record', to: 'failed', reason: 'killed' },
    ],
    // ended, and orphans
    [
      'an ended session’s leftovers are removed',
      row('stopped'),
      present('stopped'),
      { do: 'terminate' },
    ],
    ['an ended session with nothing left: done', row('failed'), absent, { do: 'nothing' }],
    [
      'what runs for no session (an orphan) is removed',
      null,
      present('running'),
      { do: 'terminate' },
    ],
    [
      'an orphan being removed: nothing',
      null,
      present('running', { ending: true }),
      { do: 'nothing' },
    ],
    ['no session and nothing running: nothing', null, absent, { do: 'nothing' }],
    // limits (one clock: from the first running)
    [
      'a session within its lifetime is looked at again when it ends',
      row('running', { runningAt: ago(3_599), maxLifetimeSeconds: 3_600 }),
      present('running'),
      { do: 'nothing', requeueAfterMs: 1_000 },
    ],
    [
      'a session past its lifetime is stopped',
      row('running', { runningAt: ago(3_600), maxLifetimeSeconds: 3_600 }),
      present('running'),
      { do: 'stop', reason: 'maximum lifetime reached' },
    ],
    [
      'a session idle for its timeout is stopped',
      row('running', { runningAt: ago(120), idleTimeoutSeconds: 60 }),
      present('running', { lastInputMs: ago(61).getTime() }),
      { do: 'stop', reason: 'idle: no input for 60s' },
    ],
    [
      'an idle answer asked before the deadline waits for a fresh one ("I\'m still here")',
      row('running', { runningAt: ago(120), idleTimeoutSeconds: 60 }),
      present('running', { lastInputMs: ago(61).getTime(), lastInputAskedMs: ago(2).getTime() }),
      { do: 'nothing' },
    ],
    [
      'an idle answer asked after the deadline stops it',
      row('running', { runningAt: ago(120), idleTimeoutSeconds: 60 }),
      present('running', { lastInputMs: ago(61).getTime(), lastInputAskedMs: ago(0).getTime() }),
      { do: 'stop', reason: 'idle: no input for 60s' },
    ],
    [
      'a session given input within its timeout runs on',
      row('running', { runningAt: ago(120), idleTimeoutSeconds: 60 }),
      present('running', { lastInputMs: ago(59).getTime() }),
      { do: 'nothing' },
    ],
    [
      'a session nobody ever touched counts from when it ran',
      row('running', { runningAt: ago(30), idleTimeoutSeconds: 60 }),
      present('running', { lastInputMs: null }),
      { do: 'nothing' },
    ],
    [
      'unknown input is never idle',
      row('running', { runningAt: ago(3_600), idleTimeoutSeconds: 60 }),
      present('running'),
      { do: 'nothing' },
    ],
  ];
  it.each(cases)('%s', (_, session, seen, step) => {
    expect(nextStep(session, seen, now)).toEqual(step);
  });

  it('never asks for a transition the lifecycle forbids', async () => {
    const { canTransition } = await import('../../src/domain/lifecycle.ts');
    for (const [, session, seen] of cases) {
      const step = nextStep(session, seen, now);
      if (session && step.do === 'record') expect(canTransition(session.state, step.to)).toBe(true);
    }
  });
});
