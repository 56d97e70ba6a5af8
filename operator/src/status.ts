// PURE: a Session's next status, and what to do about its pod, from the Session, its pod (as
// the cache last saw it), the time and the streamer's last input. Level-triggered: the same
// inputs always give the same answer, so a reconcile may run any number of times.

import type { ContainerStatus, Pod } from '@floe/kube/resources';
import type { Session, SessionCondition, SessionPhase, SessionStatus } from './crd.ts';

export type PodAction =
  /** the pod is missing and the session still wants one */
  | 'create'
  /** nothing to do to the pod now */
  | 'wait'
  /** the session is over: its pod must go (the Session itself stays for the control plane) */
  | 'delete';

export interface Decision {
  status: SessionStatus;
  pod: PodAction;
  /** look again after this long even if nothing changes (timeouts) */
  requeueAfterMs?: number;
}

export interface DecideInput {
  session: Session;
  pod: Pod | undefined;
  now: Date;
  /** where the streamer serves, written once Running */
  endpoint: string;
  /**
   * The streamer's last input: a Date, null when it answered and has had none, undefined when
   * unknown (not asked yet, or unreachable). Unknown never counts as idle.
   */
  lastInputAt?: Date | null;
  /** the status to start from when fresher than the cached Session's (our last write) */
  previous?: SessionStatus;
  /**
   * The API server refused to create the pod: 403 from admission (a ResourceQuota exceeded,
   * a policy) may pass later; 422 (an invalid pod) never will.
   */
  podRejected?: { code: number; message: string };
}

/** How often a session whose pod the API server refused (quota) tries again. */
export const REJECTED_RETRY_MS = 5000;

export const DEFAULT_START_SECONDS = 300;
export const TERMINAL_PHASES: readonly SessionPhase[] = ['Stopped', 'Failed'];
export const isTerminal = (phase: SessionPhase | undefined) =>
  phase !== undefined && TERMINAL_PHASES.includes(phase);

/** Waiting reasons from which a container will not start without a change to the spec. */
export const FATAL_WAITING_REASONS = [
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'CreateContainerConfigError',
  'CreateContainerError',
] as const;

const iso = (d: Date) => d.toISOString();
const ms = (t: string | Date | undefined) => (t === undefined ? undefined : new Date(t).getTime());

export function decide(input: DecideInput): Decision {
  const { session, pod, now } = input;
  const prev = input.previous ?? session.status ?? {};
  const hasPod = pod !== undefined && !pod.metadata.deletionTimestamp;

  // terminal phases are final: never revived, whatever the pod does
  if (isTerminal(prev.phase)) return { status: prev, pod: hasPod ? 'delete' : 'wait' };

  const startSeconds = session.spec.timeouts?.startSeconds ?? DEFAULT_START_SECONDS;
  const createdMs = ms(session.metadata.creationTimestamp) ?? ms(prev.startedAt) ?? now.getTime();
  const startDeadlineMs = createdMs + startSeconds * 1000;
  const startExpired = now.getTime() >= startDeadlineMs;
  const podCreated = pod?.metadata.creationTimestamp;
  const startedAt = podCreated ? new Date(podCreated).toISOString() : prev.startedAt;
  const base: SessionStatus = { startedAt, observedGeneration: session.metadata.generation };

  const build = (
    phase: SessionPhase,
    fields: Partial<SessionStatus>,
    scheduled: SessionCondition['status'],
    ready: SessionCondition['status'],
    why?: { reason?: string; message?: string },
  ): SessionStatus => {
    const terminal = isTerminal(phase);
    const status: SessionStatus = {
      ...clean(base),
      phase,
      ...(why?.reason ? { reason: why.reason } : {}),
      ...(why?.message ? { message: why.message } : {}),
      ...clean(fields),
      ...(terminal ? { finishedAt: iso(now) } : {}),
    };
    status.conditions = conditions(prev.conditions, now, [
      { type: 'Scheduled', status: scheduled, ...(phase === 'Pending' ? why : {}) },
      { type: 'Ready', status: ready },
      { type: 'Stopped', status: terminal ? 'True' : 'False', ...(terminal ? why : {}) },
    ]);
    return clean(status);
  };
  const end = (
    phase: 'Stopped' | 'Failed',
    reason: string,
    message: string,
    extra: Partial<SessionStatus> = {},
  ): Decision => ({
    status: build(
      phase,
      { node: prev.node, runningAt: prev.runningAt, endpoint: prev.endpoint, ...extra },
      pod?.spec.nodeName ? 'True' : 'False',
      'False',
      { reason, message },
    ),
    pod: hasPod ? 'delete' : 'wait',
  });
  const untilStart = { requeueAfterMs: Math.max(0, startDeadlineMs - now.getTime()) + 50 };

  if (!pod || !hasPod) {
    if (prev.phase === 'Starting' || prev.phase === 'Running') {
      return end('Failed', 'PodLost', "the session's pod was deleted by someone else");
    }
    if (pod) return { status: prev, pod: 'wait' }; // ours, still going away
    const rejected = input.podRejected;
    if (rejected?.code === 422) return end('Failed', 'PodInvalid', rejected.message);
    if (rejected) {
      const reason = /exceeded quota/i.test(rejected.message) ? 'QuotaExceeded' : 'PodForbidden';
      if (startExpired) {
        return end('Failed', reason, `no pod within ${startSeconds}s: ${rejected.message}`);
      }
      return {
        status: build('Pending', {}, 'False', 'False', { reason, message: rejected.message }),
        pod: 'wait',
        requeueAfterMs: Math.min(REJECTED_RETRY_MS, untilStart.requeueAfterMs),
      };
    }
    if (startExpired) {
      // the refusal seen last is the reason, if the pod was refused
      const refused = prev.reason === 'QuotaExceeded' || prev.reason === 'PodForbidden';
      return refused
        ? end('Failed', prev.reason as string, `no pod within ${startSeconds}s: ${prev.message}`)
        : end('Failed', 'StartTimeout', `no pod within ${startSeconds}s`);
    }
    return { status: build('Pending', {}, 'False', 'False'), pod: 'create', ...untilStart };
  }

  const containers = [
    ...(pod.status?.initContainerStatuses ?? []),
    ...(pod.status?.containerStatuses ?? []),
  ];
  const fatal = containers.find((c) =>
    (FATAL_WAITING_REASONS as readonly string[]).includes(c.state?.waiting?.reason ?? ''),
  );
  if (fatal) {
    const w = fatal.state?.waiting ?? {};
    return end(
      'Failed',
      w.reason ?? 'ContainerError',
      `container ${fatal.name}: ${w.message ?? w.reason}`,
    );
  }

  const terminated = finished(pod, containers);
  if (terminated) {
    const { name, exitCode, reason } = terminated;
    if (exitCode === 0) {
      return end('Stopped', 'Completed', `container ${name} exited`, { exitCode: 0 });
    }
    return end('Failed', reason ?? 'Error', `container ${name} exited with code ${exitCode}`, {
      exitCode,
    });
  }

  const node = pod.spec.nodeName;
  const scheduledCond = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (!node) {
    const unschedulable =
      scheduledCond?.status === 'False' && scheduledCond.reason === 'Unschedulable';
    const why = unschedulable
      ? { reason: 'Unschedulable', message: scheduledCond.message ?? 'no node fits' }
      : { reason: 'Scheduling', message: 'waiting for the scheduler' };
    if (startExpired) {
      return end(
        'Failed',
        why.reason === 'Unschedulable' ? 'Unschedulable' : 'StartTimeout',
        `not scheduled within ${startSeconds}s: ${why.message}`,
      );
    }
    return { status: build('Pending', {}, 'False', 'False', why), pod: 'wait', ...untilStart };
  }

  const ready =
    pod.status?.phase === 'Running' &&
    pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
  if (!ready) {
    if (startExpired) {
      return end('Failed', 'StartTimeout', `not ready within ${startSeconds}s`, { node });
    }
    const waiting = containers.find((c) => c.state?.waiting?.reason);
    const why = waiting
      ? {
          reason: waiting.state?.waiting?.reason,
          message: `container ${waiting.name}: ${waiting.state?.waiting?.message ?? waiting.state?.waiting?.reason}`,
        }
      : {};
    return {
      status: build('Starting', { node }, 'True', 'False', why),
      pod: 'wait',
      ...untilStart,
    };
  }

  // Running
  const runningAt = prev.runningAt ?? iso(now);
  const runningMs = new Date(runningAt).getTime();
  const { idleSeconds } = session.spec.timeouts ?? {};
  const running = { node, runningAt, endpoint: input.endpoint };
  if (idleSeconds && input.lastInputAt !== undefined) {
    const since = Math.max(runningMs, input.lastInputAt?.getTime() ?? 0);
    if (now.getTime() >= since + idleSeconds * 1000) {
      return end('Stopped', 'IdleTimeout', `no input for ${idleSeconds}s`, {
        ...running,
        ...(input.lastInputAt ? { lastInputAt: iso(input.lastInputAt) } : {}),
      });
    }
  }
  return { status: build('Running', running, 'True', 'True'), pod: 'wait' };
}

/** The container that ended the pod, if any: with restartPolicy Never, any exit ends it. */
function finished(
  pod: Pod,
  containers: ContainerStatus[],
): { name: string; exitCode: number; reason?: string } | undefined {
  // the app's exit is the meaningful one; then any other container's
  const ordered = [...containers].sort((a, b) =>
    a.name === 'app' ? -1 : b.name === 'app' ? 1 : 0,
  );
  const t = ordered.find((c) => c.state?.terminated);
  if (t?.state?.terminated) {
    const { exitCode, reason } = t.state.terminated;
    return { name: t.name, exitCode, reason };
  }
  if (pod.status?.phase === 'Succeeded') return { name: 'pod', exitCode: 0 };
  if (pod.status?.phase === 'Failed') {
    return { name: 'pod', exitCode: 1, reason: pod.status.reason ?? 'PodFailed' };
  }
  return undefined;
}

/** Conditions with lastTransitionTime carried over from `prev` while their status stays. */
export function conditions(
  prev: SessionCondition[] | undefined,
  now: Date,
  next: Omit<SessionCondition, 'lastTransitionTime'>[],
): SessionCondition[] {
  return next.map((c) => {
    const old = prev?.find((p) => p.type === c.type);
    const lastTransitionTime = old && old.status === c.status ? old.lastTransitionTime : iso(now);
    return clean({ ...c, lastTransitionTime }) as SessionCondition;
  });
}

/** Drops undefined fields, so that equal statuses compare equal as JSON. */
function clean<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** Whether two statuses are the same (key order aside). */
export function sameStatus(a: SessionStatus | undefined, b: SessionStatus | undefined): boolean {
  return canonical(a ?? {}) === canonical(b ?? {});
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}
