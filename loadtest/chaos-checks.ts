// What the chaos scenario (chaos.ts) requires of the platform once the dust settles, as pure
// functions of what it read back: the sessions and their events from PostgreSQL, the Session
// resources and pods of the clusters, the usage the API reports, the client's responses.

export interface SessionFact {
  id: string;
  state: string;
  gpuCount: number;
}

export interface EventFact {
  /** session_events.id: the order of a session's events */
  seq: number;
  sessionId: string;
  from: string | null;
  to: string;
  atMs: number;
}

export interface ResponseLine {
  kind: 'launch' | 'stop';
  i: number;
  attempt: number;
  status: number;
  t: number;
  /** the replica that answered (or did not) */
  base?: string;
  /** the API's error code of a refusal */
  code?: string;
}

import { isTerminal } from '@floe/control/session-states';

/** Sessions still in a non-terminal state. */
export function stuck(sessions: SessionFact[]): string[] {
  return sessions.filter((s) => !isTerminal(s.state)).map((s) => s.id);
}

/**
 * Sessions whose events do not form one chain: each event must start where the previous
 * ended (no transition written twice, none lost), and the last must be the row's state.
 */
export function brokenChains(sessions: SessionFact[], events: EventFact[]): string[] {
  const bySession = groupEvents(events);
  const broken: string[] = [];
  for (const s of sessions) {
    const chain = bySession.get(s.id) ?? [];
    let previous: string | null = null;
    let ok = chain.length > 0;
    for (const e of chain) {
      if (e.from !== previous) ok = false;
      previous = e.to;
    }
    if (!ok || previous !== s.state) broken.push(s.id);
  }
  return broken;
}

function groupEvents(events: EventFact[]): Map<string, EventFact[]> {
  const by = new Map<string, EventFact[]>();
  for (const e of [...events].sort((a, b) => a.seq - b.seq)) {
    const list = by.get(e.sessionId) ?? [];
    list.push(e);
    by.set(e.sessionId, list);
  }
  return by;
}

/**
 * Session-seconds recomputed from the events alone, independently of the database's own
 * function: each `running` event until the session's next event, clipped to [from, to).
 */
export function usageSeconds(events: EventFact[], fromMs: number, toMs: number): number {
  let total = 0;
  for (const chain of groupEvents(events).values()) {
    chain.forEach((e, n) => {
      if (e.to !== 'running') return;
      const end = chain[n + 1]?.atMs ?? toMs;
      total += Math.max(0, Math.min(end, toMs) - Math.max(e.atMs, fromMs)) / 1000;
    });
  }
  return total;
}

/** The most GPUs that admitted, not yet ended sessions held at any instant. */
export function peakGpus(sessions: SessionFact[], events: EventFact[]): number {
  const gpus = new Map(sessions.map((s) => [s.id, s.gpuCount]));
  const steps: { at: number; seq: number; delta: number }[] = [];
  for (const chain of groupEvents(events).values()) {
    const first = chain[0];
    const end = chain.find((e) => isTerminal(e.to));
    const n = gpus.get(first?.sessionId ?? '') ?? 0;
    if (!first || n === 0) continue;
    steps.push({ at: first.atMs, seq: first.seq, delta: n });
    if (end) steps.push({ at: end.atMs, seq: end.seq, delta: -n });
  }
  steps.sort((a, b) => a.at - b.at || a.seq - b.seq);
  let held = 0;
  let peak = 0;
  for (const s of steps) {
    held += s.delta;
    peak = Math.max(peak, held);
  }
  return peak;
}

/** Resources of sessions that are not active, and active sessions without a resource. */
export function mismatched(
  active: Set<string>,
  resources: Set<string>,
): { withoutSession: string[]; withoutResource: string[] } {
  return {
    withoutSession: [...resources].filter((id) => !active.has(id)),
    withoutResource: [...active].filter((id) => !resources.has(id)),
  };
}

/**
 * The client's 5xx and broken connections: how many, how many fell outside the incidents
 * (a replica killed, PostgreSQL restarting) by more than `windowMs`, and the requests that
 * never got an answer in all their retries, each with what its tries got (status@ms since
 * `since`, replica), so that a failed run says why.
 */
export function serverErrors(
  lines: ResponseLine[],
  incidents: { atMs: number; untilMs: number }[],
  windowMs: number,
  since = 0,
) {
  const failed = (l: ResponseLine) => l.status === 0 || l.status >= 500;
  const errors = lines.filter(failed);
  const near = (t: number) =>
    incidents.some((x) => t >= x.atMs - windowMs && t <= x.untilMs + windowMs);
  const answered = new Set(lines.filter((l) => !failed(l)).map((l) => `${l.kind}/${l.i}`));
  const unanswered = new Map<string, string[]>();
  for (const l of errors) {
    const key = `${l.kind}/${l.i}`;
    if (answered.has(key)) continue;
    const tries = unanswered.get(key) ?? [];
    tries.push(
      `${l.status}${l.code ? ` ${l.code}` : ''}@${l.t - since}ms${l.base ? ` ${l.base}` : ''}`,
    );
    unanswered.set(key, tries);
  }
  return {
    total: errors.length,
    outsideIncidents: errors.filter((l) => !near(l.t)).length,
    unanswered: [...unanswered].map(([key, tries]) => `${key}: ${tries.join(', ')}`),
  };
}
