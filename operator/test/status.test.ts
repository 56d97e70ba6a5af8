// The pure status decision: every mapping from a pod to a Session's phase.

import type { ContainerStatus, Pod } from '@floe/kube/resources';
import { describe, expect, it } from 'vitest';
import type { Session, SessionStatus } from '../src/crd.ts';
import { decide, FATAL_WAITING_REASONS } from '../src/status.ts';
import { sessionObject, sessionSpec } from './fixtures.ts';

const t0 = new Date('2026-01-01T00:00:00.000Z');
const at = (s: number) => new Date(t0.getTime() + s * 1000);
const endpoint = 'http://floe-s1.floe-t-t1.svc.cluster.local:8080/';

function session(status?: SessionStatus, timeouts?: Session['spec']['timeouts']): Session {
  const s = sessionObject('s1', { ...sessionSpec(), timeouts });
  s.metadata.uid = 'uid-1';
  s.metadata.creationTimestamp = t0.toISOString();
  s.status = status;
  return s;
}

function pod(status: Pod['status'], nodeName?: string): Pod {
  return {
    metadata: { name: 'floe-s1', namespace: 'floe-t-t1', creationTimestamp: at(1).toISOString() },
    spec: { nodeName, containers: [{ name: 'app' }, { name: 'streamer' }] },
    status,
  };
}

const container = (
  name: string,
  state: ContainerStatus['state'],
  ready = false,
): ContainerStatus => ({
  name,
  ready,
  state,
});
const scheduled = { type: 'PodScheduled', status: 'True' };
const readyPod = () =>
  pod(
    {
      phase: 'Running',
      podIP: '10.0.0.5',
      conditions: [scheduled, { type: 'Ready', status: 'True' }],
      containerStatuses: [
        container('app', { running: {} }, true),
        container('streamer', { running: {} }, true),
      ],
    },
    'node-a',
  );

/** Runs decide step after step, feeding each status into the next, as the reconciler does. */
const step = (
  s: Session,
  p: Pod | undefined,
  now: Date,
  extra: { lastInputAt?: Date | null } = {},
) => {
  const d = decide({ session: s, pod: p, now, endpoint, ...extra });
  s.status = d.status;
  return d;
};

describe('decide', () => {
  it('asks for the pod while there is none: Pending', () => {
    const d = decide({ session: session(), pod: undefined, now: at(0), endpoint });
    expect(d.pod).toBe('create');
    expect(d.status.phase).toBe('Pending');
    expect(d.requeueAfterMs).toBeGreaterThan(299_000); // the start timeout
  });

  it('maps Unschedulable to Pending with its message, then Failed after startSeconds', () => {
    const p = pod({
      phase: 'Pending',
      conditions: [
        {
          type: 'PodScheduled',
          status: 'False',
          reason: 'Unschedulable',
          message: '0/3 nodes are available: 3 Insufficient nvidia.com/gpu.',
        },
      ],
    });
    const s = session(undefined, { startSeconds: 60 });
    const d = step(s, p, at(10));
    expect(d.status).toMatchObject({
      phase: 'Pending',
      reason: 'Unschedulable',
      message: expect.stringMatching(/Insufficient/),
    });
    expect(d.status.conditions?.find((c) => c.type === 'Scheduled')).toMatchObject({
      status: 'False',
      reason: 'Unschedulable',
    });
    expect(d.pod).toBe('wait');
    expect(d.requeueAfterMs).toBeGreaterThanOrEqual(50_000);
    const late = step(s, p, at(60));
    expect(late.status).toMatchObject({
      phase: 'Failed',
      reason: 'Unschedulable',
      message: expect.stringMatching(/not scheduled within 60s: 0\/3 nodes/),
    });
    expect(late.pod).toBe('delete');
  });

  it.each(FATAL_WAITING_REASONS)('fails at once on a container waiting with %s', (reason) => {
    const p = pod(
      {
        phase: 'Pending',
        conditions: [scheduled],
        containerStatuses: [
          container('app', {
            waiting: { reason, message: 'pull access denied for registry.invalid/floe/blender' },
          }),
        ],
      },
      'node-a',
    );
    const d = decide({ session: session(), pod: p, now: at(5), endpoint });
    expect(d.status).toMatchObject({
      phase: 'Failed',
      reason,
      message: 'container app: pull access denied for registry.invalid/floe/blender',
    });
    expect(d.pod).toBe('delete');
  });

  it('is Starting while scheduled but not ready, with the waiting reason', () => {
    const p = pod(
      {
        phase: 'Pending',
        conditions: [scheduled],
        containerStatuses: [container('app', { waiting: { reason: 'ContainerCreating' } })],
      },
      'node-a',
    );
    const d = decide({ session: session(), pod: p, now: at(2), endpoint });
    expect(d.status).toMatchObject({
      phase: 'Starting',
      node: 'node-a',
      reason: 'ContainerCreating',
    });
    expect(d.status.conditions?.map((c) => [c.type, c.status])).toEqual([
      ['Scheduled', 'True'],
      ['Ready', 'False'],
      ['Stopped', 'False'],
    ]);
  });

  it('is Running once ready, with node, endpoint and runningAt kept across reconciles', () => {
    const s = session();
    step(s, undefined, at(0));
    const first = step(s, readyPod(), at(3));
    expect(first.status).toMatchObject({
      phase: 'Running',
      node: 'node-a',
      endpoint,
      runningAt: at(3).toISOString(),
      startedAt: at(1).toISOString(),
    });
    const again = decide({ session: s, pod: readyPod(), now: at(30), endpoint });
    expect(again.status).toEqual(first.status); // nothing moved: the same status, times included
  });

  it('keeps lastTransitionTime of conditions whose status is unchanged', () => {
    const s = session();
    const pending = step(s, undefined, at(0));
    const running = step(s, readyPod(), at(3));
    const stopped = pending.status.conditions?.find((c) => c.type === 'Stopped');
    expect(running.status.conditions?.find((c) => c.type === 'Stopped')?.lastTransitionTime).toBe(
      stopped?.lastTransitionTime,
    );
    expect(running.status.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime).toBe(
      at(3).toISOString(),
    );
  });

  it('is Stopped when the app exits 0 and Failed with the code otherwise', () => {
    const exited = (exitCode: number) =>
      pod(
        {
          phase: exitCode ? 'Failed' : 'Succeeded',
          containerStatuses: [
            container('app', {
              terminated: { exitCode, reason: exitCode ? 'Error' : 'Completed' },
            }),
          ],
        },
        'node-a',
      );
    const ok = decide({ session: session(), pod: exited(0), now: at(9), endpoint });
    expect(ok.status).toMatchObject({
      phase: 'Stopped',
      reason: 'Completed',
      exitCode: 0,
      finishedAt: at(9).toISOString(),
    });
    expect(ok.pod).toBe('delete');
    const bad = decide({ session: session(), pod: exited(137), now: at(9), endpoint });
    expect(bad.status).toMatchObject({
      phase: 'Failed',
      reason: 'Error',
      exitCode: 137,
      message: 'container app exited with code 137',
    });
  });

  it('fails a session whose pod vanished while it ran', () => {
    const s = session();
    step(s, readyPod(), at(3));
    expect(step(s, undefined, at(4)).status).toMatchObject({ phase: 'Failed', reason: 'PodLost' });
  });

  it('stops an idle session, counting from the last input or from running', () => {
    const s = session(undefined, { idleSeconds: 100 });
    step(s, readyPod(), at(0));
    // unknown (streamer unreachable): never idle
    expect(step(s, readyPod(), at(500), {}).status.phase).toBe('Running');
    // input at 450: idle only from 550
    expect(step(s, readyPod(), at(540), { lastInputAt: at(450) }).status.phase).toBe('Running');
    const d = step(s, readyPod(), at(550), { lastInputAt: at(450) });
    expect(d.status).toMatchObject({
      phase: 'Stopped',
      reason: 'IdleTimeout',
      lastInputAt: at(450).toISOString(),
    });
  });

  it('counts no input at all from runningAt', () => {
    const s = session(undefined, { idleSeconds: 100 });
    step(s, readyPod(), at(0));
    expect(step(s, readyPod(), at(99), { lastInputAt: null }).status.phase).toBe('Running');
    expect(step(s, readyPod(), at(100), { lastInputAt: null }).status.reason).toBe('IdleTimeout');
  });

  it('never revives a terminal session, and deletes any pod it still has', () => {
    const s = session({ phase: 'Failed', reason: 'ErrImagePull' });
    const d = decide({ session: s, pod: readyPod(), now: at(1), endpoint });
    expect(d.status).toEqual(s.status);
    expect(d.pod).toBe('delete');
    expect(decide({ session: s, pod: undefined, now: at(1), endpoint }).pod).toBe('wait');
  });

  it('maps a pod refused for quota to Pending QuotaExceeded, retried, then Failed after startSeconds', () => {
    const message =
      'pods "floe-s1" is forbidden: exceeded quota: floe-gpu-quota, requested: requests.nvidia.com/gpu=12, used: requests.nvidia.com/gpu=0, limited: requests.nvidia.com/gpu=8';
    const s = session(undefined, { startSeconds: 60 });
    const d = decide({
      session: s,
      pod: undefined,
      now: at(1),
      endpoint,
      podRejected: { code: 403, message },
    });
    expect(d.status).toMatchObject({ phase: 'Pending', reason: 'QuotaExceeded', message });
    expect(d.pod).toBe('wait');
    expect(d.requeueAfterMs).toBe(5000);
    const late = decide({
      session: s,
      pod: undefined,
      now: at(60),
      endpoint,
      podRejected: { code: 403, message },
    });
    expect(late.status).toMatchObject({ phase: 'Failed', reason: 'QuotaExceeded' });
  });

  it('fails at once when the API server finds the pod invalid (422)', () => {
    const d = decide({
      session: session(),
      pod: undefined,
      now: at(1),
      endpoint,
      podRejected: {
        code: 422,
        message: 'Pod "floe-s1" is invalid: spec.containers[0].env[0].name: Invalid value',
      },
    });
    expect(d.status).toMatchObject({
      phase: 'Failed',
      reason: 'PodInvalid',
      message: expect.stringMatching(/is invalid/),
    });
  });
});
