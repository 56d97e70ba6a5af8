// Runs floe.k6.js once with a plan's options against a stack, and reads what k6 measured.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureK6, K6_ENV } from '@floe/testbed';
import type { Plan, Profile } from './profiles.ts';
import { APP, type Stack, TENANT } from './stack.ts';
import type { K6Summary } from './summary.ts';

/** k6's exit status when thresholds were crossed (and the run otherwise completed). */
export const THRESHOLDS_CROSSED = 99;

export interface K6Result {
  code: number;
  /** null when k6 ended before writing it (a script error, a crash) */
  summary: K6Summary | null;
}

export async function runK6(opts: {
  dir: string;
  plan: Plan;
  profile: Profile;
  stack: Stack;
  log: (line: string) => void;
}): Promise<K6Result> {
  const k6 = ensureK6(opts.log);
  const optionsFile = join(opts.dir, 'k6-options.json');
  const summaryFile = join(opts.dir, 'k6-summary.json');
  writeFileSync(optionsFile, JSON.stringify(opts.plan.options, null, 2));
  const { stack, profile } = opts;
  const params = {
    bases: stack.controlUrls,
    token: stack.token,
    tenant: TENANT,
    app: APP,
    users: stack.users,
    progressRounds: opts.plan.schedule.some((s) => s.name === 'progress')
      ? profile.progress.rounds
      : 0,
    progressHoldSeconds: profile.progress.holdSeconds,
    wsMessages: profile.wsMessages,
    gateway: stack.gateway,
  };
  const script = join(import.meta.dirname, 'floe.k6.js');
  // spawns: k6
  const child = spawn(k6, ['run', '--quiet', '--no-usage-report', script], {
    env: {
      ...process.env,
      ...K6_ENV,
      OPTIONS: optionsFile,
      PARAMS: JSON.stringify(params),
      SUMMARY: summaryFile,
    },
    // k6's own lines (errors, the crossed thresholds' names) go to our stderr
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const code = await new Promise<number>((resolve) =>
    child.once('exit', (c, signal) => resolve(c ?? (signal ? 128 : 1))),
  );
  const summary = existsSync(summaryFile)
    ? (JSON.parse(readFileSync(summaryFile, 'utf8')) as K6Summary)
    : null;
  return { code, summary };
}
