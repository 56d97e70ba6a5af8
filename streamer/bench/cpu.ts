/**
 * What the streamer's benchmarks share: CPU use per process from /proc between two
 * snapshots, and stopping a child process.
 */
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcessTicks {
  name: string;
  ppid: number;
  /** utime + stime, in USER_HZ ticks */
  ticks: number;
}

export interface CpuSnapshot {
  procs: Map<number, ProcessTicks>;
  total: number;
  busy: number;
}

/** CPU ticks per process (utime + stime), with each process's name and parent. */
export function cpuSnapshot(): CpuSnapshot {
  const procs = new Map<number, ProcessTicks>();
  let total = 0;
  const cpuLine = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1);
  const idle = Number(cpuLine[3]) + Number(cpuLine[4]);
  for (const n of cpuLine) total += Number(n) || 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      procs.set(Number(entry), { name, ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) });
    } catch {
      // the process ended between the listing and the read
    }
  }
  return { procs, total, busy: total - idle };
}

/**
 * Percent of one core used over `seconds` by the processes `match` picks, and the machine's
 * busy share of all its cores.
 */
export function cpuBetween(before: CpuSnapshot, after: CpuSnapshot, seconds: number) {
  const used = (pid: number) =>
    (after.procs.get(pid)?.ticks ?? 0) - (before.procs.get(pid)?.ticks ?? 0);
  return {
    percent(match: (pid: number, p: ProcessTicks) => boolean): number {
      let ticks = 0;
      for (const [pid, p] of after.procs) if (match(pid, p)) ticks += used(pid);
      return Math.round((ticks / 100 / seconds) * 100); // USER_HZ is 100 on Linux
    },
    machine: Math.round(((after.busy - before.busy) / (after.total - before.total)) * 100),
  };
}

export async function stopChild(child: ChildProcess) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}
