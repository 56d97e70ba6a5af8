/**
 * Runs probe-app.ts as a child process and collects its JSON lines: what tests and the latency
 * benchmark use to see input arrive at a real app. The child runs in its own process group;
 * stop() ends it and waits.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ProbeEvent } from './probe-app.ts';

export const PROBE_APP = fileURLToPath(new URL('./probe-app.ts', import.meta.url));

export interface ProbeProcess {
  pid: number;
  /** Every event printed so far, in order. */
  events: ProbeEvent[];
  /** The first event at index `from` or later that matches; rejects after `timeoutMs`. */
  waitFor<T extends ProbeEvent>(
    match: (e: ProbeEvent) => e is T,
    opts?: { from?: number; timeoutMs?: number },
  ): Promise<T>;
  waitFor(
    match: (e: ProbeEvent) => boolean,
    opts?: { from?: number; timeoutMs?: number },
  ): Promise<ProbeEvent>;
  /** The exit code (null when killed by a signal), once the process has ended. */
  exited: Promise<number | null>;
  /** What it wrote to stderr. */
  stderr(): string;
  stop(): Promise<void>;
}

/** Starts the probe app and resolves once it reports ready. */
export async function startProbeProcess(opts: {
  display: string;
  fps?: number;
  readyTimeoutMs?: number;
}): Promise<ProbeProcess> {
  const child: ChildProcess = spawn(
    process.execPath,
    [PROBE_APP, '--display', opts.display, '--fps', String(opts.fps ?? 60)],
    { detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const pid = child.pid;
  if (pid === undefined) throw new Error('cannot start the probe app');
  const events: ProbeEvent[] = [];
  const waiters = new Set<() => void>();
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      events.push(JSON.parse(line) as ProbeEvent);
    } catch {
      stderr += `(not JSON on stdout) ${line}\n`;
    }
    for (const wake of waiters) wake();
  });
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      for (const wake of waiters) wake();
      resolve(code);
    });
  });
  let ended = false;
  exited.then(() => {
    ended = true;
  });

  const waitFor = (
    match: (e: ProbeEvent) => boolean,
    { from = 0, timeoutMs = 5_000 }: { from?: number; timeoutMs?: number } = {},
  ) =>
    new Promise<ProbeEvent>((resolve, reject) => {
      const check = () => {
        const found = events.slice(from).find(match);
        if (found) {
          finish();
          resolve(found);
        } else if (ended) {
          finish();
          reject(new Error(`the probe app exited; stderr:\n${stderr}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(
          new Error(
            `no matching probe event within ${timeoutMs} ms; since #${from}: ${JSON.stringify(events.slice(from))}`,
          ),
        );
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });

  const stop = async () => {
    if (ended) return;
    const signal = (s: NodeJS.Signals) => {
      try {
        process.kill(-pid, s);
      } catch {}
    };
    signal('SIGTERM');
    const timer = setTimeout(() => signal('SIGKILL'), 3_000);
    await exited;
    clearTimeout(timer);
  };

  const probe: ProbeProcess = {
    pid,
    events,
    waitFor: waitFor as ProbeProcess['waitFor'],
    exited,
    stderr: () => stderr,
    stop,
  };
  try {
    await waitFor((e) => e.type === 'ready', { timeoutMs: opts.readyTimeoutMs ?? 10_000 });
  } catch (err) {
    await stop();
    throw err;
  }
  return probe;
}
