// CPU time from /proc, for the benchmarks' "cpu ms per operation" columns.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

function stat(pid: string | number) {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s
    .slice(s.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number);
  // utime, stime, cutime, cstime in clock ticks of 1/100 s (getconf CLK_TCK)
  return { ppid: f[1], own: (f[11]! + f[12]!) / 100, children: (f[13]! + f[14]!) / 100 };
}

/** The postmaster's pid of a PostgreSQL server whose data directory is `dir`/data. */
export function postmasterPidOf(dir: string): number {
  return Number(readFileSync(join(dir, 'data/postmaster.pid'), 'utf8').split('\n')[0]);
}

/**
 * CPU seconds: of this process (`server`), of its exited children (`client`), of a
 * PostgreSQL server (`db`: the postmaster, its live backends and its exited ones) and of a
 * live process `other` (a child that runs meanwhile).
 */
export function cpuSeconds(postmasterPid?: number, otherPid?: number) {
  const self = stat('self');
  let db = 0;
  if (postmasterPid) {
    const pm = stat(postmasterPid);
    db = pm.own + pm.children; // exited backends are counted in the postmaster's children
    for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      try {
        const s = stat(pid);
        if (s.ppid === postmasterPid) db += s.own;
      } catch {} // it ended meanwhile
    }
  }
  let other = 0;
  try {
    if (otherPid) other = stat(otherPid).own;
  } catch {} // it ended
  return { server: self.own, client: self.children, db, other };
}

/** The machine's CPU: busy and total jiffies of all cores since boot (/proc/stat). */
export function machineCpu() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  const idle = f[3]! + f[4]!; // idle + iowait
  return { busy: total - idle, total };
}
