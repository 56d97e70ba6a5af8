import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { chownSync, closeSync, mkdirSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { type LastInput, parseLastInput } from '@floe/operator/idle';
import {
  findCommand,
  SANDBOX_HOME,
  SANDBOX_PATH,
  type SandboxSpec,
  sandboxArgv,
} from '@floe/streamer/sandbox';
import { mintTurnCredentials } from '@floe/turn';
import type { DriverRef } from '../db/schema.ts';
import { chooseRoot, type MarkedProcess, sessionRoots } from '../domain/local-processes.ts';
import { OPEN_POLICY, transferEnv } from '../domain/transfer.ts';
import type { Capacity, ClusterDriver, LaunchSpec, Observation, SessionAddress } from './driver.ts';

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
   * Marks every process tree this runner starts (FLOE_LOCAL_RUNNER), so that a later control
   * plane on the same data folder removes what it left behind and nobody else's; by default
   * derived from `logDir`.
   */
  runner?: string;
  /**
   * How often each streaming session with an idle timeout is asked for its user's last
   * input (whether that makes it idle is sessions/next-step.ts's decision); `now` stamps
   * when each was asked, on the session loop's clock (Date.now by default).
   */
  idle?: { intervalMs?: number; now?: () => number };
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
  /** running: started (alone), or its streamer answered (streaming sessions) */
  running: boolean;
  /** the streamer's address, once it answered (streaming sessions) */
  endpoint?: string;
  /** the app's idle timeout: its streamer is asked for the last input when set */
  idleTimeoutSeconds?: number | null;
  /** the streamer's last answer (epoch ms; null: no input ever; undefined: not asked) */
  lastInputMs?: number | null;
  /** when the streamer was asked for it */
  lastInputAskedMs?: number;
}

/** How a session's processes ended, kept until the control plane has recorded it. */
interface Ended {
  state: 'stopped' | 'failed';
  reason: string;
  exitCode?: number;
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
  return readStat(pid)?.startTime ?? null;
}

function readStat(pid: number): { ppid: number; startTime: string } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z') return null; // exited, not yet reaped
    const startTime = fields[19];
    return startTime ? { ppid: Number(fields[1]), startTime } : null;
  } catch {
    return null;
  }
}

/** A process's environment as it was started (what /proc shows); null when unreadable. */
function environOf(pid: number): Map<string, string> | null {
  try {
    const env = new Map<string, string>();
    for (const entry of readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0')) {
      const eq = entry.indexOf('=');
      if (eq > 0) env.set(entry.slice(0, eq), entry.slice(eq + 1));
    }
    return env;
  } catch {
    return null;
  }
}

/**
 * Every live process of this machine whose environment names a session: what a control
 * plane killed at any instant may have left running, whether or not its database knows.
 */
function scanMarked(): MarkedProcess[] {
  const found: MarkedProcess[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    const env = environOf(pid);
    const sessionId = env?.get('FLOE_SESSION_ID');
    if (!sessionId) continue;
    const stat = readStat(pid);
    if (!stat) continue;
    found.push({ pid, ...stat, sessionId, runner: env?.get('FLOE_LOCAL_RUNNER') ?? null });
  }
  return found;
}

/** The last input a streamer reports at /healthz; undefined when it does not answer. */
async function askLastInput(endpoint: string, timeoutMs = 2_000): Promise<LastInput> {
  try {
    const res = await fetch(new URL('healthz', endpoint), {
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok) return undefined;
    return parseLastInput(await res.json());
  } catch {
    return undefined;
  }
}

/** How long an adopted streaming session's streamer has to answer before it is failed. */
const ADOPT_READY_MS = 30_000;

function killGroup(pid: number, signal: NodeJS.Signals) {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is already gone
  }
}

/** SIGKILL to a process and its group (a twin or an orphan: nobody to give a grace period). */
function killTree(pid: number) {
  killGroup(pid, 'SIGKILL');
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone already
  }
}

/**
 * Runs each session as a process group on this machine, like a pod: the session runner with
 * its X server, the app and the streamer (or the app alone). Stopping a session kills the
 * whole group.
 */
export class LocalDriver implements ClusterDriver {
  private readonly changes = new EventEmitter();
  private readonly tracked = new Map<string, Tracked>();
  /** sessions whose processes ended (or never started), until the end is recorded */
  private readonly ended = new Map<string, Ended>();
  /** sessions between the start of launch() and their spawn */
  private readonly launching = new Set<string>();
  /** sessions stopped while launching: their spawn must not happen */
  private readonly cancelled = new Set<string>();
  private readonly opts: Required<LocalDriverOptions>;
  private readonly idleTimer: NodeJS.Timeout | null = null;
  private askingInput = false;

  constructor(opts: LocalDriverOptions) {
    this.opts = {
      stopGraceMs: 5_000,
      pollMs: 1_000,
      gpus: [],
      streaming: null,
      sandbox: null,
      runner: createHash('sha256').update(resolve(opts.logDir)).digest('hex').slice(0, 16),
      idle: {},
      ...opts,
    };
    mkdirSync(this.opts.logDir, { recursive: true });
    if (this.opts.sandbox) mkdirSync(this.opts.sandbox.homesDir, { recursive: true, mode: 0o700 });
    // only a streamer can tell how long ago its user last did anything
    if (this.opts.streaming) {
      this.idleTimer = setInterval(() => void this.askInput(), this.opts.idle.intervalMs ?? 30_000);
      this.idleTimer.unref();
    }
  }

  /** The home of the session's user for this app, kept across sessions, owned by the sandbox user. */
  private homeOf(spec: LaunchSpec, sandbox: NonNullable<LocalDriverOptions['sandbox']>) {
    const home = join(sandbox.homesDir, spec.tenantId, spec.userId, spec.app.slug);
    mkdirSync(home, { recursive: true, mode: 0o700 });
    if (process.getuid?.() === 0) chownSync(home, sandbox.uid, sandbox.uid);
    return home;
  }

  onChange(listener: (sessionId: string | null) => void): () => void {
    this.changes.on('change', listener);
    return () => this.changes.off('change', listener);
  }

  private changed(sessionId: string) {
    this.changes.emit('change', sessionId);
  }

  /** The session's processes ended, or could not start: kept until the end is recorded. */
  private end(sessionId: string, ended: Ended) {
    this.ended.set(sessionId, ended);
    this.changed(sessionId);
  }

  /**
   * What runs for the session: its tracked process tree, a launch under way, how it ended;
   * else a live tree an earlier control plane started for it, found and adopted now.
   */
  observe({ sessionId, ref, active, idleTimeoutSeconds }: SessionAddress): Observation {
    const ended = this.ended.get(sessionId);
    if (ended) return { seen: 'present', ...ended, ending: false };
    if (this.launching.has(sessionId) && !this.tracked.has(sessionId)) {
      return { seen: 'present', state: 'starting', ending: this.cancelled.has(sessionId) };
    }
    let tracked = this.tracked.get(sessionId);
    if (!tracked && !active) {
      // left by an earlier control plane of this data folder, for a session now ended
      const left = scanMarked().some(
        (p) => p.sessionId === sessionId && p.runner === this.opts.runner,
      );
      return left
        ? { seen: 'present', state: 'running', ending: false }
        : { seen: 'absent', vanished: 'its processes ended' };
    }
    if (!tracked) {
      const found = this.attach(sessionId, ref, idleTimeoutSeconds ?? null);
      if (!found) {
        return {
          seen: 'absent',
          vanished: 'the app’s process ended while the control plane was down',
        };
      }
      this.announce(sessionId, found);
      tracked = found;
    }
    if (idleTimeoutSeconds !== undefined) tracked.idleTimeoutSeconds = idleTimeoutSeconds;
    const { pid, startTime } = tracked;
    return {
      seen: 'present',
      state: tracked.running ? 'running' : 'starting',
      ...(tracked.running && { ref: { pid, startTime } }),
      ...(tracked.endpoint && { endpoint: tracked.endpoint }),
      ending: tracked.stopping,
      ...(tracked.lastInputMs !== undefined && { lastInputMs: tracked.lastInputMs }),
      ...(tracked.lastInputAskedMs !== undefined && { lastInputAskedMs: tracked.lastInputAskedMs }),
    };
  }

  /** What this runner runs or keeps, and what an earlier one of its data folder left. */
  present(): string[] {
    const ids = new Set([...this.tracked.keys(), ...this.launching, ...this.ended.keys()]);
    for (const p of scanMarked()) if (p.runner === this.opts.runner) ids.add(p.sessionId);
    return [...ids];
  }

  async capacity(): Promise<Capacity> {
    return { gpus: this.opts.gpus, maxSessions: this.opts.maxSessions };
  }

  async launch(spec: LaunchSpec): Promise<void> {
    const { sessionId } = spec;
    if (this.tracked.has(sessionId) || this.launching.has(sessionId)) return;
    this.launching.add(sessionId);
    try {
      // An earlier control plane may have started it and died before recording so: its
      // process is adopted, never doubled by a second one.
      const found = this.attach(sessionId, null, spec.app.idleTimeoutSeconds);
      if (found) return this.announce(sessionId, found);
      this.ended.delete(sessionId);
      await this.start(spec);
    } finally {
      this.launching.delete(sessionId);
      this.cancelled.delete(sessionId);
    }
  }

  private async start(spec: LaunchSpec): Promise<void> {
    const { sessionId } = spec;
    const argv = spec.app.command;
    if (!argv?.[0]) {
      return this.end(sessionId, { state: 'failed', reason: 'the app has no command to run' });
    }
    if (this.tracked.size + this.launching.size > this.opts.maxSessions) {
      return this.end(sessionId, { state: 'failed', reason: 'the local runner is full' });
    }
    const { streaming, sandbox } = this.opts;
    const appPath = spec.app.env.PATH ?? SANDBOX_PATH;
    if (sandbox && !streaming && !findCommand(argv[0], appPath)) {
      // the sandbox would start and then not find it; say it as spawn would
      return this.end(sessionId, { state: 'failed', reason: `cannot start "${argv[0]}": ENOENT` });
    }
    const ids = {
      FLOE_SESSION_ID: sessionId,
      FLOE_TENANT_ID: spec.tenantId,
      FLOE_USER_ID: spec.userId,
    };
    // with the session id, what a later control plane finds this tree by (scanMarked)
    const mark = { FLOE_LOCAL_RUNNER: this.opts.runner };
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
        // what the tenant and app allow of clipboard and files, enforced by the streamer
        ...transferEnv(spec.transfer ?? OPEN_POLICY),
        FLOE_STREAMER_HOST: '127.0.0.1',
        FLOE_STREAMER_PORT: String(port),
        ...(spec.app.videoCodecs && { FLOE_STREAMER_CODECS: spec.app.videoCodecs.join(',') }),
        FLOE_APP_ENV: JSON.stringify({ ...spec.app.env, ...ids }),
        // the streamer warns its viewers before the idle stop (the control plane's decision)
        ...(spec.app.idleTimeoutSeconds && {
          FLOE_IDLE_TIMEOUT_SECONDS: String(spec.app.idleTimeoutSeconds),
        }),
        ...ids,
        ...mark,
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
        ...mark,
      };
    }
    // stopped while it waited for its port: it was reported stopped, and must not start
    if (this.cancelled.has(sessionId)) return;
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
      this.end(sessionId, {
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
      running: false,
      timers: [],
      spawnedAt: Date.now(),
      idleTimeoutSeconds: spec.app.idleTimeoutSeconds,
    });
    this.changed(sessionId);
    child.once('exit', (code, signal) => this.exited(sessionId, code, signal));
    const running = (endpoint?: string) => {
      const tracked = this.tracked.get(sessionId);
      if (!tracked) return;
      tracked.endpoint = endpoint;
      tracked.running = true;
      this.changed(sessionId);
    };
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

  /**
   * Finds the live process tree of a session that an earlier control plane started (by its
   * reference, or by the session id in its environment when the reference was never
   * recorded), tracks it, and kills any twin. Null when none lives.
   */
  private attach(
    sessionId: string,
    ref: DriverRef | null,
    idleTimeoutSeconds: number | null,
  ): Tracked | null {
    const roots = sessionRoots(scanMarked()).get(sessionId) ?? [];
    const { keep, kill } = chooseRoot(roots, ref);
    for (const twin of kill) killTree(twin.pid);
    let found = keep && { pid: keep.pid, startTime: keep.startTime };
    // a process of an earlier version, unmarked, that its recorded reference still names
    const refPid = Number(ref?.pid);
    if (!found && refPid && processStartTime(refPid) === String(ref?.startTime ?? '')) {
      found = { pid: refPid, startTime: String(ref?.startTime) };
    }
    if (!found) return null;
    const { pid, startTime } = found;
    const tracked: Tracked = {
      pid,
      startTime,
      stopping: false,
      running: false,
      timers: [],
      idleTimeoutSeconds,
    };
    this.tracked.set(sessionId, tracked);
    const poll = setInterval(() => {
      if (processStartTime(pid) !== startTime) this.exited(sessionId, null, null);
    }, this.opts.pollMs);
    tracked.timers.push(poll);
    return tracked;
  }

  /**
   * Reports an adopted session running: at once without streaming; with streaming once its
   * streamer (at the address in its environment) answers, since it may have been adopted
   * before it was ready; one that never answers is failed and killed.
   */
  private announce(sessionId: string, tracked: Tracked) {
    const { pid } = tracked;
    const running = (endpoint?: string) => {
      tracked.endpoint = endpoint;
      tracked.running = true;
      this.changed(sessionId);
    };
    if (!this.opts.streaming) return running();
    const env = environOf(pid);
    const port = env?.get('FLOE_STREAMER_PORT');
    const endpoint = port && `http://${env?.get('FLOE_STREAMER_HOST') ?? '127.0.0.1'}:${port}/`;
    const deadline = Date.now() + ADOPT_READY_MS;
    const check = async () => {
      if (this.tracked.get(sessionId) !== tracked || tracked.stopping) return;
      if (endpoint && (await askLastInput(endpoint, 1_000)) !== undefined) {
        if (this.tracked.get(sessionId) === tracked && !tracked.stopping) running(endpoint);
        return;
      }
      if (!endpoint || Date.now() > deadline) {
        tracked.failure = 'the adopted session’s streamer did not answer';
        killGroup(pid, 'SIGKILL'); // the poll reports it
        return;
      }
      tracked.timers.push(setTimeout(() => void check(), 250));
    };
    void check();
  }

  async terminate({ sessionId }: SessionAddress): Promise<void> {
    // its end is recorded: forgotten
    if (this.ended.delete(sessionId)) return this.changed(sessionId);
    if (this.launching.has(sessionId) && !this.tracked.has(sessionId)) {
      // not spawned yet: it never will be (start() checks), so it is stopped now
      this.cancelled.add(sessionId);
      return this.end(sessionId, { state: 'stopped', reason: 'stopped before it ran' });
    }
    const tracked = this.tracked.get(sessionId);
    if (tracked) return this.stop(tracked);
    // what an earlier control plane of this data folder left for a session that is not
    // active (a crash between a spawn and its record): nobody to give a grace period
    const found = scanMarked().filter((p) => p.sessionId === sessionId);
    if (!found.some((p) => p.runner === this.opts.runner)) return;
    // the whole tree, and whatever of it left the group (a sandbox's own session)
    for (const p of found) killTree(p.pid);
  }

  /** SIGTERM to the session's group, SIGKILL after its grace period; exited() reports it. */
  private stop(tracked: Tracked) {
    if (tracked.stopping) return;
    tracked.stopping = true;
    killGroup(tracked.pid, 'SIGTERM');
    const young = tracked.spawnedAt !== undefined && Date.now() - tracked.spawnedAt < EARLY_STOP_MS;
    const grace = young ? Math.min(EARLY_STOP_MS, this.opts.stopGraceMs) : this.opts.stopGraceMs;
    tracked.timers.push(setTimeout(() => killGroup(tracked.pid, 'SIGKILL'), grace));
  }

  /**
   * Asks each running streaming session with an idle timeout for its user's last input;
   * whether that makes it idle is the control plane's decision (sessions/next-step.ts).
   */
  private async askInput(): Promise<void> {
    if (this.askingInput) return;
    this.askingInput = true;
    try {
      await Promise.all(
        [...this.tracked].map(async ([sessionId, tracked]) => {
          const { endpoint, idleTimeoutSeconds } = tracked;
          if (tracked.stopping || !tracked.running || !endpoint || !idleTimeoutSeconds) return;
          const askedMs = this.opts.idle.now?.() ?? Date.now();
          const lastInput = await askLastInput(endpoint);
          if (lastInput === undefined || this.tracked.get(sessionId) !== tracked) return;
          tracked.lastInputMs = lastInput === null ? null : lastInput.getTime();
          tracked.lastInputAskedMs = askedMs;
          this.changed(sessionId);
        }),
      );
    } finally {
      this.askingInput = false;
    }
  }

  private exited(sessionId: string, code: number | null, signal: NodeJS.Signals | null) {
    const tracked = this.tracked.get(sessionId);
    if (!tracked) return;
    this.tracked.delete(sessionId);
    for (const t of tracked.timers) clearTimeout(t);
    killGroup(tracked.pid, 'SIGKILL'); // whatever the app left behind in its group
    this.end(sessionId, exitOutcome(tracked, code, signal));
  }

  async close(opts: { terminate?: boolean } = {}): Promise<void> {
    if (this.idleTimer) clearInterval(this.idleTimer);
    if (opts.terminate) {
      // what the control plane did not stop in time: exited() forgets each
      for (const tracked of this.tracked.values()) this.stop(tracked);
      while (this.tracked.size > 0) await new Promise((r) => setTimeout(r, 20));
    }
    for (const [, t] of this.tracked) {
      for (const timer of t.timers) clearTimeout(timer);
      t.child?.unref();
    }
    this.tracked.clear();
    this.changes.removeAllListeners();
  }
}

/** How a session whose processes exited ended. */
function exitOutcome(
  tracked: Pick<Tracked, 'failure' | 'stopping'>,
  code: number | null,
  signal: NodeJS.Signals | null,
): Ended {
  if (tracked.failure) return { state: 'failed', reason: tracked.failure };
  if (tracked.stopping) return { state: 'stopped', reason: 'stopped on request' };
  if (code === 0) return { state: 'stopped', reason: 'the app exited', exitCode: 0 };
  if (code !== null) {
    return { state: 'failed', reason: `the app exited with code ${code}`, exitCode: code };
  }
  if (signal) return { state: 'failed', reason: `the app was killed by ${signal}` };
  return {
    state: 'failed',
    reason:
      'the app ended while supervised by an earlier control-plane process (exit code unknown)',
  };
}
