// `npm run loadtest -- [flags]`: Floe's k6 suite. Starts what the scenarios need (stack.ts),
// runs them with their thresholds (profiles.ts, floe.k6.js), prints the results table and
// writes it as Markdown, and tears everything down. Exit status: 0 when every threshold held,
// 99 (k6's) when one was crossed, 1 on any other failure, 2 on bad flags.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { K6_VERSION } from '@floe/testbed';
import { runK6, THRESHOLDS_CROSSED } from './k6.ts';
import {
  GATEWAY_SCENARIOS,
  PROFILES,
  parseRateOverrides,
  parseSelection,
  parseThresholdOverrides,
  plan,
  ROWS,
  SCENARIOS,
} from './profiles.ts';
import { startStack, stopStacks } from './stack.ts';
import {
  crossedMessage,
  crossedThresholds,
  lateLine,
  markdownTable,
  peerLine,
  resultRows,
} from './summary.ts';

const REPO = resolve(import.meta.dirname, '..', '..');

const HELP = `Floe's load tests (k6 ${K6_VERSION}): npm run loadtest -- [flags]

  --smoke              every scenario briefly, with its thresholds (part of npm test)
  --only LIST          these scenarios only, comma-separated: ${SCENARIOS.join(', ')}
  --seconds S          seconds each rate-driven scenario runs (full run: 20)
  --replicas N         control-plane replicas on the one PostgreSQL (default 1); API
                       requests go round-robin over them, the gateway to the first
  --threshold M=EXPR   replace the thresholds of metric M with EXPR (repeatable), e.g.
                       'http_req_duration{name:turn}=p(95)<20'
  --rate NAME=R        arrivals per second of a scenario instead of the profile's
                       (repeatable), e.g. launch=300: admission past what the machine takes
  --out FILE           also write the results table as Markdown (full run default:
                       tmp/loadtest-results.md)
  --postgres-url URL   make the database in this PostgreSQL server (a superuser URL)
                       instead of starting one
  --keep               keep the temporary folder (logs, k6 options and summary)
  --help

Scenarios, one after another, each held to thresholds on its failure rate (< 1 %), its
checks (> 99 %) and its p95/p99 latencies (profiles.ts):
  launch     POST a session (admission: quotas, placement, audit) then DELETE it, at a
             constant arrival rate, for the tenant's users in turn
  reads      the session list (a page of 50) and the month's usage
  progress   launch-progress SSE fan-out: many clients on one session's stream; the
             session is stopped and the time until its end event reached each is measured
  proxy      GET through the gateway to a session's endpoint (cookie checked, owner asked)
  websocket  WebSockets through the gateway to the session: open, echo, close
  turn       TURN credentials minted by the gateway for the session
What runs: PostgreSQL (the testbed's), the control plane (replica.ts: the real one, each
replica its own process, sessions on a stand-in cluster whose endpoint is an echo server),
and for proxy, websocket and turn the gateway (its own process), the testbed's OpenID
Provider (a user signs in through its forms) and coturn (the gateway's TURN fleet).
After the run the sessions are counted by state in the database: one neither stopped nor
running (failed, stuck on the way) fails the run.
Exit status: 0 every threshold held; 99 a threshold was crossed (named on stderr); 1 any
other failure; 2 bad flags.`;

function usage(message: string): never {
  process.stderr.write(`loadtest: ${message}\n\n${HELP}\n`);
  process.exit(2);
}

let args: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    options: {
      smoke: { type: 'boolean', default: false },
      only: { type: 'string' },
      seconds: { type: 'string' },
      replicas: { type: 'string', default: '1' },
      threshold: { type: 'string', multiple: true, default: [] },
      rate: { type: 'string', multiple: true, default: [] },
      out: { type: 'string' },
      'postgres-url': { type: 'string' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  }).values;
}
try {
  args = parse();
} catch (err) {
  usage((err as Error).message);
}
if (args.help) {
  process.stdout.write(`${HELP}\n`);
  process.exit(0);
}

const base = PROFILES[args.smoke ? 'smoke' : 'full'];
const seconds = args.seconds === undefined ? base.seconds : Number(args.seconds);
const replicas = Number(args.replicas);
if (!Number.isInteger(seconds) || seconds < 1) usage('--seconds takes a positive integer');
if (!Number.isInteger(replicas) || replicas < 1) usage('--replicas takes a positive integer');
let selected: ReturnType<typeof parseSelection>;
let overrides: ReturnType<typeof parseThresholdOverrides>;
let rates: ReturnType<typeof parseRateOverrides>;
try {
  selected = parseSelection(args.only);
  overrides = parseThresholdOverrides(args.threshold);
  rates = parseRateOverrides(args.rate, base.rates);
} catch (err) {
  usage((err as Error).message);
}
const profile = { ...base, seconds, rates };
const thePlan = plan(profile, selected, overrides);
const out = args.out ?? (args.smoke ? undefined : join(REPO, 'tmp', 'loadtest-results.md'));

const log = (line: string) => process.stderr.write(`[loadtest] ${line}\n`);
const dir = mkdtempSync(join(tmpdir(), 'floe-loadtest-'));

async function main(): Promise<number> {
  const started = Date.now();
  const load = loadavg()[0]?.toFixed(2);
  const stack = await startStack({
    dir,
    replicas,
    gateway: selected.some((s) => GATEWAY_SCENARIOS.includes(s)),
    seed: profile.seed,
    postgresUrl: args['postgres-url'],
    durable: !args.smoke,
    log,
  });
  try {
    const total = thePlan.schedule.reduce((n, s) => Math.max(n, s.start + s.seconds), 0);
    log(
      `ready in ${((Date.now() - started) / 1000).toFixed(1)} s; running ${selected.join(', ')} ` +
        `(${profile.name}, about ${Math.ceil(total)} s)`,
    );
    const { code, summary } = await runK6({ dir, plan: thePlan, profile, stack, log });
    if (!summary) {
      log(`k6 exited with ${code} without a summary (see its output above)`);
      return 1;
    }
    const rows = resultRows(summary, ROWS, thePlan.schedule);
    const notes = [peerLine(rows), lateLine(summary)].filter((n) => n !== null);
    const table = markdownTable(rows) + notes.map((n) => `\n${n}\n`).join('');
    const heading =
      `Floe load test, ${profile.name} profile, ${replicas} control-plane replica(s), ` +
      `k6 ${K6_VERSION}, ${cpus().length} cores, load average ${load} at start`;
    process.stdout.write(`\n${heading}\n\n${table}\n`);
    if (out) {
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, `${heading}\n\n${table}`);
      log(`results written to ${out}`);
    }
    // every session launched ended as asked or still runs: none failed (lost by the
    // platform) nor stuck on the way
    const states = await stack.sessionStates();
    const line = Object.entries(states).map(([state, n]) => `${state} ${n}`);
    process.stdout.write(`Sessions by state after the run: ${line.join(', ')}.\n`);
    const stuck = Object.entries(states).filter(
      ([state]) => !['stopped', 'running'].includes(state),
    );
    const crossed = crossedThresholds(summary);
    if (code === THRESHOLDS_CROSSED || crossed.length > 0) {
      process.stderr.write(crossedMessage(crossed));
      return THRESHOLDS_CROSSED;
    }
    if (code !== 0) {
      log(`k6 exited with ${code}`);
      return 1;
    }
    if (stuck.length > 0) {
      log(
        `sessions neither stopped nor running after the run: ${stuck.map(([s, n]) => `${s} ${n}`).join(', ')}`,
      );
      return 1;
    }
    log(`every threshold held (${((Date.now() - started) / 1000).toFixed(1)} s in all)`);
    return 0;
  } finally {
    await stack.stop();
  }
}

function removeDir() {
  if (args.keep) log(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping`);
    void stopStacks()
      .then(removeDir)
      .finally(() => process.exit(130));
  });
}

main()
  .catch((err) => {
    // a signal's stop makes the startup fail: that is not news
    if (!stopping) log(`failed: ${(err as Error).stack ?? err}`);
    return 1;
  })
  .then((code) => {
    if (stopping) return; // the signal's handler finishes
    removeDir();
    process.exit(code);
  });
