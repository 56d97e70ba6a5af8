// What the local runner does with the processes it finds on this machine, and when an idle
// local session ends: pure decisions, tested as tables (test/unit/local-processes.test.ts).
// The driver (drivers/local.ts) reads /proc and probes streamers; nothing here does I/O.
//
// Why: a control plane killed between spawning a session and recording it leaves a process
// that its database does not name (or names without a reference). Every session's process
// tree carries its session id (FLOE_SESSION_ID) and the runner that started it
// (FLOE_LOCAL_RUNNER) in its environment, so a later control plane finds it by that alone.

/** A process of this machine whose environment names a session. */
export interface MarkedProcess {
  pid: number;
  ppid: number;
  /** /proc/<pid>/stat field 22: with the pid, names one process for good */
  startTime: string;
  sessionId: string;
  /** the runner that started it (FLOE_LOCAL_RUNNER); null when not marked */
  runner: string | null;
}

/**
 * PURE: each session's roots: its marked processes whose parent is not marked for the same
 * session (the tree the driver spawned; a twin, when one was started twice).
 */
export function sessionRoots(found: MarkedProcess[]): Map<string, MarkedProcess[]> {
  const sessionOf = new Map(found.map((p) => [p.pid, p.sessionId]));
  const roots = new Map<string, MarkedProcess[]>();
  for (const p of found) {
    if (sessionOf.get(p.ppid) === p.sessionId) continue;
    roots.set(p.sessionId, [...(roots.get(p.sessionId) ?? []), p]);
  }
  return roots;
}

/**
 * PURE: of a session's live roots, the one to keep (the one its recorded reference names,
 * else the oldest) and the twins to kill: a session never has two process trees.
 */
export function chooseRoot(
  roots: MarkedProcess[],
  ref: { pid?: unknown; startTime?: unknown } | null,
): { keep: MarkedProcess | null; kill: MarkedProcess[] } {
  if (roots.length === 0) return { keep: null, kill: [] };
  const named = roots.find(
    (p) => ref && Number(ref.pid) === p.pid && String(ref.startTime) === p.startTime,
  );
  const oldest = [...roots].sort(
    (a, b) => Number(a.startTime) - Number(b.startTime) || a.pid - b.pid,
  )[0] as MarkedProcess;
  const keep = named ?? oldest;
  return { keep, kill: roots.filter((p) => p !== keep) };
}

/**
 * PURE: at start, once every active session was adopted or launched: the roots this runner
 * started for sessions it does not run (failed, stopped or unknown to its database) are
 * orphans, to be killed. Another runner's processes (another data folder) are left alone.
 */
export function orphanRoots(
  roots: Map<string, MarkedProcess[]>,
  runner: string,
  supervised: (sessionId: string) => boolean,
): MarkedProcess[] {
  const orphans: MarkedProcess[] = [];
  for (const [sessionId, list] of roots) {
    if (supervised(sessionId)) continue;
    orphans.push(...list.filter((p) => p.runner === runner));
  }
  return orphans;
}

/**
 * PURE: whether a running local session has been idle for its app's idleTimeoutSeconds,
 * as the operator decides it for Kubernetes (operator/src/status.ts): counted from the last
 * input, or from when it began running when there was none. `lastInput` undefined (the
 * streamer did not answer) is unknown, which never counts as idle.
 *
 * `askedAtMs`, when the streamer was asked: an answer from before the deadline it implies
 * proves nothing at the deadline (someone may have pressed "I'm still here" in the warning's
 * countdown since), so it gives no verdict; the next answer decides.
 */
export function idleVerdict(input: {
  idleTimeoutSeconds: number | null;
  runningSinceMs: number;
  lastInput: Date | null | undefined;
  askedAtMs?: number;
  nowMs: number;
}): { stop: false } | { stop: true; reason: string } {
  const { idleTimeoutSeconds, lastInput } = input;
  if (!idleTimeoutSeconds || lastInput === undefined) return { stop: false };
  const since = Math.max(input.runningSinceMs, lastInput?.getTime() ?? 0);
  const deadlineMs = since + idleTimeoutSeconds * 1000;
  if (input.nowMs < deadlineMs) return { stop: false };
  if (input.askedAtMs !== undefined && input.askedAtMs < deadlineMs) return { stop: false };
  return { stop: true, reason: `idle: no input for ${idleTimeoutSeconds}s` };
}
