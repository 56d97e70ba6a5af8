import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { chownSync, closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import {
  findCommand,
  SANDBOX_HOME,
  SANDBOX_PATH,
  type SandboxSpec,
  sandboxArgv,
} from '@floe/streamer/sandbox';
import { mintTurnCredentials } from '@floe/turn';
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
  streaming?: {
    runner: string;
    env: Record<string, string>;
    /**
     * The TURN fleet: each session's streamer gets a credential minted for it (valid for the
     * app's maximum lifetime, at most `maxTtlSeconds`), never the secret.
     */
    turn?: { urls: string; secret: string; maxTtlSeconds: number } | null;
  } | null;
  /**
   * Runs each app in a sandbox (streamer/src/sandbox.ts): an unprivileged user (`uid`, when
   * the control plane is root), its own mount, PID and network namespaces, its home under
   * `homesDir` (one per tenant, user and app, kept across sessions), the read-only paths
   * it needs (Floe's folder) with `hidden` ones (the data folder) covered; sessions with
   * GPUs get `gpuDevices` (this machine's /dev/dri and /dev/nvidia*).
   */
  sandbox?: {
    homesDir: string;
    uid: number;
    readOnly: string[];
    hidden: string[];
    gpuDevices?: string[];
  } | null;
}

interface Tracked {
  pid: number;
  startTime: string;
  child?: ChildProcess;
  stopping: boolean;
  timers: NodeJS.Timeout[];
  /** why the driver ended it, when it did */
  failure?: string;
  /** when this process started it (not for adopted sessions) */
  spawnedAt?: number;
}

/**
 * A sandboxed app's first moments: the sandbox ignores SIGTERM until the app runs (see
 * sandbox.ts), so a SIGTERM then is lost, and a session stopped that young gets this long.
 */
const EARLY_STOP_MS = 1_000;

/** A port on loopback free now, for a session's streamer. */
function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
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
  /** sessions between the start of launch() and their spawn */
  private readonly launching = new Set<string>();
  private readonly opts: Required<LocalDriverOptions>;

  constructor(opts: LocalDriverOptions) {
    this.opts = {
      stopGraceMs: 5_000,
      pollMs: 1_000,
      gpus: [],
      streaming: null,
      sandbox: null,
      ...opts,
    };
    mkdirSync(this.opts.logDir, { recursive: true });
    if (this.opts.sandbox) mkdirSync(this.opts.sandbox.homesDir, { recursive: true, mode: 0o700 });
  }

  /** The home of the session's user for this app, kept across sessions, owned by the sandbox user. */
  private homeOf(spec: LaunchSpec, sandbox: NonNullable<LocalDriverOptions['sandbox']>) {
    const home = join(sandbox.homesDir, spec.tenantId, spec.userId, spec.app.slug);
    mkdirSync(home, { recursive: true, mode: 0o700 });
    if (process.getuid?.() === 0) chownSync(home, sandbox.uid, sandbox.uid);
    return home;
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
    if (this.tracked.has(sessionId) || this.launching.has(sessionId)) return;
    this.launching.add(sessionId);
    try {
      await this.start(spec);
    } finally {
      this.launching.delete(sessionId);
    }
  }

  private async start(spec: LaunchSpec): Promise<void> {
    const { sessionId } = spec;
    const argv = spec.app.command;
    if (!argv?.[0]) {
      return this.emit({ sessionId, state: 'failed', reason: 'the app has no command to run' });
    }
    if (this.tracked.size + this.launching.size > this.opts.maxSessions) {
      return this.emit({ sessionId, state: 'failed', reason: 'the local runner is full' });
    }
    const { streaming, sandbox } = this.opts;
    const appPath = spec.app.env.PATH ?? SANDBOX_PATH;
    if (sandbox && !streaming && !findCommand(argv[0], appPath)) {
      // the sandbox would start and then not find it; say it as spawn would
      return this.emit({ sessionId, state: 'failed', reason: `cannot start "${argv[0]}": ENOENT` });
    }
    this.emit({ sessionId, state: 'starting' });
    const ids = {
      FLOE_SESSION_ID: sessionId,
      FLOE_TENANT_ID: spec.tenantId,
      FLOE_USER_ID: spec.userId,
    };
    const box: SandboxSpec | null = sandbox && {
      home: this.homeOf(spec, sandbox),
      uid: sandbox.uid,
      readOnly: sandbox.readOnly,
      hidden: sandbox.hidden,
      devices: spec.app.gpuCount > 0 ? (sandbox.gpuDevices ?? []) : [],
    };
    // The session's environment is made here from nothing of the control plane's own: the
    // runner gets what it needs to run the display and the streamer (a TURN credential of
    // this session, never the fleet's secret); the app gets its settings and the session's
    // names, and the runner passes those on in FLOE_APP_ENV without its own.
    const lang = process.env.LANG ?? 'C.UTF-8';
    let command: string;
    let args: string[];
    let env: Record<string, string>;
    let endpoint: string | null = null;
    if (streaming) {
      const port = await freeLoopbackPort();
      endpoint = `http://127.0.0.1:${port}/`;
      const turn = streaming.turn;
      const maxLifetime = spec.app.maxLifetimeSeconds ?? Number.POSITIVE_INFINITY;
      const credential =
        turn?.urls && turn.secret
          ? mintTurnCredentials({
              secret: turn.secret,
              sessionId,
              ttlSeconds: Math.max(60, Math.min(maxLifetime, turn.maxTtlSeconds)),
            })
          : null;
      command = process.execPath;
      args = [
        streaming.runner,
        ...(box
          ? [
              `--sandbox-home=${box.home}`,
              `--sandbox-uid=${box.uid}`,
              ...(box.readOnly ?? []).map((p) => `--sandbox-ro=${p}`),
              ...(box.hidden ?? []).map((p) => `--sandbox-hide=${p}`),
              ...(box.devices ?? []).map((p) => `--sandbox-device=${p}`),
            ]
          : []),
        '--',
        ...argv,
      ];
      env = {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? '/tmp',
        LANG: lang,
        ...streaming.env,
        ...(credential && {
          FLOE_TURN_URLS: turn!.urls,
          FLOE_TURN_USERNAME: credential.username,
          FLOE_TURN_CREDENTIAL: credential.credential,
        }),
        FLOE_STREAMER_HOST: '127.0.0.1',
        FLOE_STREAMER_PORT: String(port),
        FLOE_APP_ENV: JSON.stringify({ ...spec.app.env, ...ids }),
        ...ids,
        // the runner reports readiness on fd 3, one JSON line: {"endpoint": "http://..."}
        FLOE_READY_FD: '3',
      };
    } else {
      const full = box ? sandboxArgv(argv, box) : argv;
      command = full[0] as string;
      args = full.slice(1);
      env = {
        PATH: box ? SANDBOX_PATH : (process.env.PATH ?? '/usr/bin:/bin'),
        HOME: box ? SANDBOX_HOME : (process.env.HOME ?? '/tmp'),
        LANG: lang,
        ...spec.app.env,
        ...ids,
      };
    }
    const log = openSync(join(this.opts.logDir, `${sessionId}.log`), 'a');
    let child: ChildProcess;
    try {
      // spawns: - (the app's command, from its catalog entry, in bwrap when sandboxed)
      child = spawn(command, args, {
        detached: true, // its own process group, so the whole group can be stopped
        stdio: ['ignore', log, log, ...(streaming ? (['pipe'] as const) : [])],
        env,
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
    this.tracked.set(sessionId, {
      pid,
      startTime,
      child,
      stopping: false,
      timers: [],
      spawnedAt: Date.now(),
    });
    child.once('exit', (code, signal) => this.exited(sessionId, code, signal));
    const running = (endpoint?: string) =>
      this.emit({ sessionId, state: 'running', ref: { pid, startTime }, endpoint });
    if (!streaming) return running();
    // Only the runner holds fd 3, and only the streamer's own address on the port it was
    // given is taken as the session's endpoint (the gateway proxies its owner there).
    const ready = createInterface({ input: child.stdio[3] as Readable });
    ready.once('line', (line) => {
      ready.close();
      let announced: unknown;
      try {
        announced = JSON.parse(line).endpoint;
      } catch {
        announced = undefined;
      }
      if (endpoint && announced === endpoint) return running(endpoint);
      const tracked = this.tracked.get(sessionId);
      if (tracked) tracked.failure = 'the session announced an endpoint other than its streamer’s';
      killGroup(pid, 'SIGKILL'); // exited() reports the failure
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
    const young = tracked.spawnedAt !== undefined && Date.now() - tracked.spawnedAt < EARLY_STOP_MS;
    const grace = young ? Math.min(EARLY_STOP_MS, this.opts.stopGraceMs) : this.opts.stopGraceMs;
    tracked.timers.push(setTimeout(() => killGroup(tracked.pid, 'SIGKILL'), grace));
  }

  private exited(sessionId: string, code: number | null, signal: NodeJS.Signals | null) {
    const tracked = this.tracked.get(sessionId);
    if (!tracked) return;
    this.tracked.delete(sessionId);
    for (const t of tracked.timers) clearTimeout(t);
    killGroup(tracked.pid, 'SIGKILL'); // whatever the app left behind in its group
    if (tracked.failure) {
      this.emit({ sessionId, state: 'failed', reason: tracked.failure });
    } else if (tracked.stopping) {
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
