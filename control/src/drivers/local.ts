import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { DriverRef } from '../db/schema.ts';
import type { Capacity, ClusterDriver, DriverEvent, LaunchSpec } from './driver.ts';

export interface LocalDriverOptions {
  /** where each session's stdout and stderr go, as <session-id>.log */
  logDir: string;
  maxSessions: number;
  /** GPUs of this machine that sessions may claim (none by default) */
  gpus?: { sku: string; count: number }[];
  /** between SIGTERM and SIGKILL when a session is stopped */
  stopGraceMs?: number;
  /** how often adopted processes (not our children) are checked for life */
  pollMs?: number;
  /**
   * Runs each app inside a session runner that adds an X display and a streamer; the session
   * is running once the runner reports the streamer's URL. Without it, the app runs alone.
   */
  streaming?: { runner: string; env: Record<string, string> } | null;
}

interface Tracked {
  pid: number;
  startTime: string;
  child?: ChildProcess;
  stopping: boolean;
  timers: NodeJS.Timeout[];
}

/**
 * Linux's start time of a process (clock ticks since boot, /proc/<pid>/stat field 22),
 * so that a pid recycled by another process is never taken for the session's.
 */
function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z') return null; // exited, not yet reaped
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

function killGroup(pid: number, signal: NodeJS.Signals) {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is already gone
  }
}

/**
 * Runs each session as a process group on this machine, like a pod: the session runner with
 * its X server, the app and the streamer (or the app alone). Stopping a session kills the
 * whole group.
 */
export class LocalDriver implements ClusterDriver {
  private readonly events = new EventEmitter();
  private readonly tracked = new Map<string, Tracked>();
  private readonly opts: Required<LocalDriverOptions>;

  constructor(opts: LocalDriverOptions) {
    this.opts = { stopGraceMs: 5_000, pollMs: 1_000, gpus: [], streaming: null, ...opts };
    mkdirSync(this.opts.logDir, { recursive: true });
  }

  watch(listener: (event: DriverEvent) => void): () => void {
    this.events.on('event', listener);
    return () => this.events.off('event', listener);
  }

  private emit(event: DriverEvent) {
    this.events.emit('event', event);
  }

  async capacity(): Promise<Capacity> {
    return { gpus: this.opts.gpus, maxSessions: this.opts.maxSessions };
  }

  async launch(spec: LaunchSpec): Promise<void> {
    const { sessionId } = spec;
    if (this.tracked.has(sessionId)) return;
    const argv = spec.app.command;
    if (!argv?.[0]) {
      return this.emit({ sessionId, state: 'failed', reason: 'the app has no command to run' });
    }
    if (this.tracked.size >= this.opts.maxSessions) {
      return this.emit({ sessionId, state: 'failed', reason: 'the local runner is full' });
    }
    this.emit({ sessionId, state: 'starting' });
    const streaming = this.opts.streaming;
    // The runner reports readiness on fd 3 (FLOE_READY_FD), one JSON line: {"endpoint": "http://..."}.
    const [command, ...args] = streaming
      ? [process.execPath, streaming.runner, '--', ...argv]
      : argv;
    const log = openSync(join(this.opts.logDir, `${sessionId}.log`), 'a');
    let child: ChildProcess;
    try {
      // spawns: - (the app's command, from its catalog entry)
      child = spawn(command!, args, {
        detached: true, // its own process group, so the whole group can be stopped
        stdio: ['ignore', log, log, ...(streaming ? (['pipe'] as const) : [])],
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: process.env.HOME ?? '/tmp',
          LANG: process.env.LANG ?? 'C.UTF-8',
          ...streaming?.env,
          ...spec.app.env,
          FLOE_SESSION_ID: sessionId,
          FLOE_TENANT_ID: spec.tenantId,
          FLOE_USER_ID: spec.userId,
          ...(streaming && { FLOE_READY_FD: '3' }),
        },
      });
    } finally {
      closeSync(log);
    }
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (this.tracked.has(sessionId)) return; // 'exit' reports it
      this.emit({
        sessionId,
        state: 'failed',
        reason: `cannot start "${argv[0]}": ${err.code ?? err.message}`,
      });
    });
    const pid = child.pid;
    if (pid === undefined) return; // spawn failed; 'error' follows
    const startTime = processStartTime(pid) ?? '';
    this.tracked.set(sessionId, { pid, startTime, child, stopping: false, timers: [] });
    child.once('exit', (code, signal) => this.exited(sessionId, code, signal));
    const running = (endpoint?: string) =>
      this.emit({ sessionId, state: 'running', ref: { pid, startTime }, endpoint });
    if (!streaming) return running();
    const ready = createInterface({ input: child.stdio[3] as Readable });
    ready.once('line', (line) => {
      ready.close();
      try {
        running(String(JSON.parse(line).endpoint));
      } catch {
        killGroup(pid, 'SIGKILL'); // exited() reports the failure
      }
    });
  }

  async adopt(sessionId: string, ref: DriverRef | null): Promise<void> {
    if (this.tracked.has(sessionId)) return;
    const pid = Number(ref?.pid);
    const startTime = String(ref?.startTime ?? '');
    if (!pid || processStartTime(pid) !== startTime) {
      return this.emit({
        sessionId,
        state: 'failed',
        reason: 'the app’s process ended while the control plane was down',
      });
    }
    const tracked: Tracked = { pid, startTime, stopping: false, timers: [] };
    this.tracked.set(sessionId, tracked);
    const poll = setInterval(() => {
      if (processStartTime(pid) !== startTime) this.exited(sessionId, null, null);
    }, this.opts.pollMs);
    tracked.timers.push(poll);
    this.emit({ sessionId, state: 'running', ref: { pid, startTime } });
  }

  async terminate(sessionId: string, ref: DriverRef | null): Promise<void> {
    if (!this.tracked.has(sessionId) && ref) await this.adopt(sessionId, ref);
    const tracked = this.tracked.get(sessionId);
    if (!tracked) {
      return this.emit({ sessionId, state: 'stopped', reason: 'stopped before it ran' });
    }
    if (tracked.stopping) return;
    tracked.stopping = true;
    killGroup(tracked.pid, 'SIGTERM');
    tracked.timers.push(setTimeout(() => killGroup(tracked.pid, 'SIGKILL'), this.opts.stopGraceMs));
  }

  private exited(sessionId: string, code: number | null, signal: NodeJS.Signals | null) {
    const tracked = this.tracked.get(sessionId);
    if (!tracked) return;
    this.tracked.delete(sessionId);
    for (const t of tracked.timers) clearTimeout(t);
    killGroup(tracked.pid, 'SIGKILL'); // whatever the app left behind in its group
    if (tracked.stopping) {
      this.emit({ sessionId, state: 'stopped', reason: 'stopped on request' });
    } else if (code === 0) {
      this.emit({ sessionId, state: 'stopped', reason: 'the app exited', exitCode: 0 });
    } else if (code !== null) {
      this.emit({
        sessionId,
        state: 'failed',
        reason: `the app exited with code ${code}`,
        exitCode: code,
      });
    } else if (signal) {
      this.emit({ sessionId, state: 'failed', reason: `the app was killed by ${signal}` });
    } else {
      this.emit({
        sessionId,
        state: 'failed',
        reason:
          'the app ended while supervised by an earlier control-plane process (exit code unknown)',
      });
    }
  }

  async close(opts: { terminate?: boolean } = {}): Promise<void> {
    const all = [...this.tracked.keys()];
    if (opts.terminate) {
      // exited() reports each stop and forgets the session; wait until all are forgotten
      for (const id of all) await this.terminate(id, null);
      while (this.tracked.size > 0) await new Promise((r) => setTimeout(r, 20));
    }
    for (const [, t] of this.tracked) {
      for (const timer of t.timers) clearTimeout(timer);
      t.child?.unref();
    }
    this.tracked.clear();
    this.events.removeAllListeners();
  }
}
