// Starting and stopping the testbed's server processes, with bounded waits.
import { type ChildProcess, spawn } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';

export interface Started {
  pid: number;
  log: string;
  stop(): Promise<void>;
}

/** Resolves once something accepts TCP connections on host:port, or rejects after `ms`. */
export async function waitForPort(
  host: string,
  port: number,
  ms: number,
  what: string,
  log: string,
) {
  const deadline = Date.now() + ms;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect({ host, port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) {
      throw new Error(`${what} did not come up on ${host}:${port} within ${ms} ms; see ${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Runs a server in its own process group with its output in `log`. `detached` servers
 * outlive this process (for `testbed up`); stop() kills the group and waits for the end.
 */
export function startProcess(
  file: string,
  args: string[],
  opts: { log: string; detached?: boolean; env?: NodeJS.ProcessEnv },
): Started {
  const out = openSync(opts.log, 'a');
  // spawns: - (what the caller passes)
  const child: ChildProcess = spawn(file, args, {
    detached: true,
    stdio: ['ignore', out, out],
    env: opts.env ?? process.env,
  });
  if (child.pid === undefined) throw new Error(`cannot start ${file}; see ${opts.log}`);
  const pid = child.pid;
  if (opts.detached) child.unref();
  return { pid, log: opts.log, stop: () => stopProcessGroup(pid) };
}

/** Whether a process runs; a zombie (exited, not yet reaped by its parent) does not. */
export function isAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    // the state follows the command name, which is in parentheses and may hold spaces
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/**
 * When a live process started (clock ticks after boot, from /proc): with its pid, it names one
 * process even after the pid is reused. Null when it is gone or a zombie.
 */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' ? null : (fields[19] ?? null);
  } catch {
    return null;
  }
}

/** SIGTERM to the group, SIGKILL after 5 s; resolves when the leader is gone. */
export async function stopProcessGroup(pid: number) {
  const alive = () => isAlive(pid);
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(-pid, s);
    } catch {}
  };
  signal('SIGTERM');
  const deadline = Date.now() + 5_000;
  while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  signal('SIGKILL');
}
