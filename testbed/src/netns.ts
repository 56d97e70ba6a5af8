/**
 * A network of Floe's own for bad-network tests: a namespace for the viewer (Chromium) joined
 * to the host by a veth pair, each end's egress rate-limited by tbf, random loss and outages
 * by iptables inside the namespace, and delay with jitter by a user-space delay line
 * (delay-line.ts) in front of coturn. This kernel has no netem (`tc qdisc add … netem` answers
 * "Specified qdisc kind is unknown"), hence iptables and the delay line.
 *
 * Addresses come from 198.18.0.0/15, the range set aside for benchmarking (RFC 2544), and
 * exist only on the veth made here; nothing is routed anywhere else (the namespace has only
 * the /30 of its veth and its own loopback).
 *
 * Names carry this process's id: a run that died without cleaning up leaves names whose
 * process is gone, and the next run removes them before making its own.
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CHROMIUM_PATH } from './chromium.ts';

const run = promisify(execFile);
const PREFIX = 'floe-net-';

/** One direction's impairment; absent fields: none. */
export interface LinkShape {
  /** tbf rate, kbit/s */
  rateKbit?: number;
  /** random loss, percent of packets */
  lossPercent?: number;
  /** every packet dropped */
  down?: boolean;
}

export interface ShapedLink {
  /** the viewer's namespace */
  ns: string;
  /** the host's end of the veth: servers the viewer reaches listen here */
  hostIp: string;
  /** the viewer's end */
  viewerIp: string;
  /** A script that runs Chromium inside the namespace (Playwright's executablePath). */
  chromium: string;
  /** Applies `shape` to both directions (a symmetric link), replacing what was set. */
  shape(shape: LinkShape): Promise<void>;
  close(): Promise<void>;
}

/** How deep tbf's queue is, as time at its rate: a home router's buffer, roughly. */
export const QUEUE_MS = 200;

export async function createShapedLink(): Promise<ShapedLink> {
  removeStaleLinks();
  const id = `${process.pid}-${randomBytes(2).toString('hex')}`;
  const ns = `${PREFIX}${id}`;
  // interface names are at most 15 characters
  const tag = `${process.pid.toString(36)}${randomBytes(2).toString('hex')}`.slice(-9);
  const hostIf = `fh${tag}`;
  const viewerIf = `fv${tag}`;
  const subnet = await freeSubnet();
  const hostIp = `198.18.${subnet.b}.${subnet.c + 1}`;
  const viewerIp = `198.18.${subnet.b}.${subnet.c + 2}`;
  const dir = mkdtempSync(join(tmpdir(), 'floe-netns-'));
  const cleanup = () => {
    try {
      // the veth's other end goes with the namespace, and the host end with its peer
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {}
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', cleanup);
  try {
    await run('ip', ['netns', 'add', ns]);
    await run('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', viewerIf, 'netns', ns]);
    await run('ip', ['addr', 'add', `${hostIp}/30`, 'dev', hostIf]);
    await run('ip', ['link', 'set', hostIf, 'up']);
    await run('ip', ['-n', ns, 'addr', 'add', `${viewerIp}/30`, 'dev', viewerIf]);
    await run('ip', ['-n', ns, 'link', 'set', viewerIf, 'up']);
    await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  } catch (error) {
    cleanup();
    throw error;
  }
  const chromium = join(dir, 'chromium');
  writeFileSync(chromium, `#!/bin/sh\nexec ip netns exec ${ns} ${CHROMIUM_PATH} "$@"\n`);
  chmodSync(chromium, 0o755);

  return {
    ns,
    hostIp,
    viewerIp,
    chromium,
    async shape(shape) {
      await setRate(hostIf, shape.rateKbit);
      await setRate(viewerIf, shape.rateKbit, ns);
      const rules: string[][] = [];
      if (shape.down) rules.push([]);
      else if (shape.lossPercent)
        rules.push([
          '-m',
          'statistic',
          '--mode',
          'random',
          '--probability',
          String(shape.lossPercent / 100),
        ]);
      const iptables = (args: string[]) => run('ip', ['netns', 'exec', ns, 'iptables', ...args]);
      await iptables(['-F', 'INPUT']);
      await iptables(['-F', 'OUTPUT']);
      for (const match of rules) {
        await iptables(['-A', 'INPUT', '-i', viewerIf, ...match, '-j', 'DROP']);
        await iptables(['-A', 'OUTPUT', '-o', viewerIf, ...match, '-j', 'DROP']);
      }
    },
    async close() {
      process.removeListener('exit', cleanup);
      cleanup();
    },
  };
}

async function setRate(device: string, rateKbit: number | undefined, ns?: string) {
  const tc = (args: string[]) =>
    ns ? run('ip', ['netns', 'exec', ns, 'tc', ...args]) : run('tc', args);
  const dev = ['dev', device];
  if (rateKbit === undefined) {
    await tc(['qdisc', 'del', ...dev, 'root']).catch(() => {}); // none set: nothing to remove
    return;
  }
  // burst: at least two full packets, or 5 ms at the rate; the queue: QUEUE_MS at the rate
  const burst = Math.max(3200, Math.round((rateKbit * 1000) / 8 / 200));
  await tc([
    'qdisc',
    'replace',
    ...dev,
    'root',
    'tbf',
    'rate',
    `${rateKbit}kbit`,
    'burst',
    String(burst),
    'latency',
    `${QUEUE_MS}ms`,
  ]);
}

/** A /30 in 198.18.0.0/16 that no interface here has yet. */
async function freeSubnet(): Promise<{ b: number; c: number }> {
  const { stdout } = await run('ip', ['-o', '-4', 'addr', 'show']);
  for (;;) {
    const b = Math.floor(Math.random() * 256);
    const c = Math.floor(Math.random() * 64) * 4;
    if (!stdout.includes(`198.18.${b}.${c + 1}/`)) return { b, c };
  }
}

/** Namespaces of runs whose process is gone (killed before their exit handler ran). */
function removeStaleLinks() {
  let list = '';
  try {
    list = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  } catch {
    return;
  }
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    if (!name.startsWith(PREFIX)) continue;
    const pid = Number(name.slice(PREFIX.length).split('-')[0]);
    if (!Number.isInteger(pid) || alive(pid)) continue;
    try {
      execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
    } catch {}
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
