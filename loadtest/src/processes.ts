// The load test's processes: Node programs of ours forked with an IPC channel and their
// output in a log, the replicas' messages awaited, and bounded waits.
import { type ChildProcess, fork } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type { ReplicaMessage } from './replica.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function until<T>(
  what: string,
  ms: number,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`${what} not ready in ${ms / 1000} s${last ? `: ${last}` : ''}`);
    }
    await sleep(50);
  }
}

/** A Node program of ours in its own process, with an IPC channel and its output in a log. */
export function forkNode(
  dir: string,
  name: string,
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv,
) {
  const out = openSync(join(dir, `${name}.log`), 'a');
  const child = fork(script, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', out, out, 'ipc'],
  });
  closeSync(out);
  return child;
}

export function message<T extends ReplicaMessage['type']>(
  child: ChildProcess,
  type: T,
  what: string,
): Promise<Extract<ReplicaMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: ReplicaMessage) => {
      if (m.type !== type) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(m as Extract<ReplicaMessage, { type: T }>);
    };
    const onExit = (code: number | null) =>
      reject(new Error(`${what} exited (${code}) before ${type}`));
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

export async function stopChild(child: ChildProcess) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}
