// What the load test runs and what it holds each scenario to: pure data and pure functions
// from a profile (smoke or full) and a selection to k6's options (scenarios, thresholds) and
// to the rows of the results table. The k6 script (scenarios/floe.k6.js) reads these options
// as they are; nothing about rates, durations or thresholds lives in it.

export const SCENARIOS = ['launch', 'reads', 'progress', 'proxy', 'websocket', 'turn'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** Scenarios that go through the gateway (and so need it, the identity provider and coturn). */
export const GATEWAY_SCENARIOS: readonly ScenarioName[] = ['proxy', 'websocket', 'turn'];

export interface Profile {
  name: 'smoke' | 'full';
  /** seconds each scenario runs (they run one after another, so that each is measured alone) */
  seconds: number;
  /** arrivals per second: launches (each then stopped), reads (a list and a usage read each),
   * proxied requests, WebSocket sessions, TURN credential requests */
  rates: { launch: number; reads: number; proxy: number; websocket: number; turn: number };
  /** SSE fan-out: `clients` streams on one session, `rounds` sessions one after another,
   * each stopped `holdSeconds` after its round began; at most `maxLate` of the clients may
   * subscribe only after the stop */
  progress: { clients: number; rounds: number; holdSeconds: number; maxLate: number };
  /** messages each WebSocket session exchanges (one at a time, each waiting for its echo) */
  wsMessages: number;
  /** users of the tenant the launches cycle over, and ended sessions seeded before the run */
  seed: { users: number; sessions: number };
  /** latency thresholds (ms): API requests, the gateway's, SSE (many clients subscribing at
   * once, then the stop reaching every one) */
  limits: {
    api: { p95: number; p99: number };
    proxy: { p95: number; p99: number };
    fanout: { p95: number; p99: number };
  };
}

// Smoke: every scenario briefly, while the rest of `npm test` may share the two cores, so its
// latency limits catch gross regressions (a query per row, a blocked event loop) rather than
// drift; failures are held to the same 1 % as the full run. Full: limits about three times
// what this 2-core machine measured while shared with other work (load average 8, see
// docs/benchmarks.md), so that the run holds on a busy machine and a regression that
// multiplies a latency crosses them.
export const PROFILES: Record<Profile['name'], Profile> = {
  smoke: {
    name: 'smoke',
    seconds: 2,
    rates: { launch: 10, reads: 10, proxy: 50, websocket: 5, turn: 20 },
    progress: { clients: 20, rounds: 1, holdSeconds: 2, maxLate: 0.5 },
    wsMessages: 3,
    seed: { users: 10, sessions: 20 },
    limits: {
      api: { p95: 1000, p99: 3000 },
      proxy: { p95: 1000, p99: 3000 },
      fanout: { p95: 2500, p99: 5000 },
    },
  },
  full: {
    name: 'full',
    seconds: 20,
    rates: { launch: 50, reads: 50, proxy: 300, websocket: 20, turn: 100 },
    progress: { clients: 200, rounds: 5, holdSeconds: 2, maxLate: 0.05 },
    wsMessages: 10,
    seed: { users: 100, sessions: 500 },
    limits: {
      api: { p95: 250, p99: 500 },
      proxy: { p95: 50, p99: 250 },
      fanout: { p95: 1500, p99: 2500 },
    },
  },
};

/** One row of the results table: a latency (a k6 Trend) and its failures (a k6 Rate). */
export interface Row {
  scenario: ScenarioName;
  /** what is measured, as the table says it */
  what: string;
  /** a Trend, in ms */
  latency: string;
  /** a Rate whose true samples are failures; its sample count is the row's count */
  failed: string;
}

const http = (scenario: ScenarioName, name: string, what: string): Row => ({
  scenario,
  what,
  latency: `http_req_duration{name:${name}}`,
  failed: `http_req_failed{name:${name}}`,
});

export const ROWS: Row[] = [
  http('launch', 'launch', 'POST sessions (admission)'),
  http('launch', 'stop', 'DELETE session'),
  http('reads', 'list', 'GET sessions (50 a page)'),
  http('reads', 'usage', 'GET usage'),
  {
    scenario: 'progress',
    what: 'SSE: request to first byte',
    latency: 'sse_first_event',
    failed: 'sse_failed',
  },
  {
    scenario: 'progress',
    what: 'SSE: stop to end event, every client',
    latency: 'sse_fanout',
    failed: 'sse_failed',
  },
  http('proxy', 'proxy', 'gateway → session GET'),
  // the peer: the same request to the session's endpoint itself, at the same rate
  http('proxy', 'direct', 'session GET, direct (peer)'),
  {
    scenario: 'websocket',
    what: 'WebSocket handshake via gateway',
    latency: 'ws_connecting{scenario:websocket}',
    failed: 'ws_failed',
  },
  {
    scenario: 'websocket',
    // k6's clock in scripts counts milliseconds
    what: 'WebSocket echo round trip (1 ms steps)',
    latency: 'ws_echo',
    failed: 'ws_failed',
  },
  http('turn', 'turn', 'TURN credentials (gateway)'),
];

/** A scenario of k6's options, as floe.k6.js runs it (`exec` names its exported function). */
export type K6Scenario = Record<string, unknown> & { executor: string; exec: string };

export interface K6Options {
  scenarios: Record<string, K6Scenario>;
  thresholds: Record<string, string[]>;
  summaryTrendStats: string[];
  setupTimeout: string;
  teardownTimeout: string;
}

const arrivals = (rate: number, seconds: number, exec: string, perIteration = 1): K6Scenario => ({
  executor: 'constant-arrival-rate',
  exec,
  rate,
  timeUnit: '1s',
  duration: `${seconds}s`,
  // enough virtual users for the rate at ~100 ms an iteration, more if it gets slower
  preAllocatedVUs: Math.max(2, Math.ceil((rate * perIteration) / 10)),
  maxVUs: Math.max(10, rate * perIteration * 2),
});

/** How long a scenario takes, in seconds (progress: its rounds, each held then stopped). */
export function scenarioSeconds(name: ScenarioName, p: Profile): number {
  if (name === 'progress') return p.progress.rounds * (p.progress.holdSeconds + 0.5);
  if (name === 'websocket') return p.seconds + 1; // the last sessions end after the arrivals
  return p.seconds;
}

/** k6 scenarios of one of ours, starting `start` seconds into the run. */
function k6Scenarios(name: ScenarioName, p: Profile, start: number): Record<string, K6Scenario> {
  const startTime = `${start}s`;
  const { rates, seconds } = p;
  switch (name) {
    case 'launch':
      return { launch: { ...arrivals(rates.launch, seconds, 'launch', 2), startTime } };
    case 'reads':
      return { reads: { ...arrivals(rates.reads, seconds, 'reads', 2), startTime } };
    case 'proxy':
      return { proxy: { ...arrivals(rates.proxy, seconds, 'proxy', 2), startTime } };
    case 'turn':
      return { turn: { ...arrivals(rates.turn, seconds, 'turn'), startTime } };
    case 'websocket':
      return {
        websocket: {
          ...arrivals(rates.websocket, seconds, 'websocket', p.wsMessages),
          startTime,
          gracefulStop: '5s',
        },
      };
    case 'progress': {
      const { clients, rounds, holdSeconds } = p.progress;
      const maxDuration = `${Math.ceil(rounds * (holdSeconds + 10))}s`;
      return {
        // each client follows round i's session; the stopper stops it holdSeconds later
        progress: {
          executor: 'per-vu-iterations',
          exec: 'progress',
          vus: clients,
          iterations: rounds,
          maxDuration,
          startTime,
        },
        progress_stopper: {
          executor: 'per-vu-iterations',
          exec: 'progressStopper',
          vus: 1,
          iterations: rounds,
          maxDuration,
          startTime,
        },
      };
    }
  }
}

/** The thresholds every row of a scenario is held to, by the profile's limits. */
function k6Thresholds(name: ScenarioName, p: Profile): Record<string, string[]> {
  const limits =
    name === 'progress'
      ? p.limits.fanout
      : GATEWAY_SCENARIOS.includes(name)
        ? p.limits.proxy
        : p.limits.api;
  const out: Record<string, string[]> = { [`checks{scenario:${name}}`]: ['rate>0.99'] };
  // clients that subscribed only after their session's stop measured no fan-out; most must
  // have (the stop waits holdSeconds for them)
  if (name === 'progress') out.sse_late = [`rate<${p.progress.maxLate}`];
  for (const row of ROWS.filter((r) => r.scenario === name)) {
    out[row.latency] = [`p(95)<${limits.p95}`, `p(99)<${limits.p99}`];
    out[row.failed] = ['rate<0.01'];
  }
  return out;
}

export interface Plan {
  options: K6Options;
  /** each selected scenario's start and length in the run, seconds */
  schedule: { name: ScenarioName; start: number; seconds: number }[];
}

/**
 * k6's options for `selected` scenarios of profile `p`, one after another with a pause
 * between; `overrides` replace the thresholds of the metrics they name (`--threshold`).
 */
export function plan(
  p: Profile,
  selected: readonly ScenarioName[],
  overrides: Record<string, string[]> = {},
): Plan {
  const scenarios: Record<string, K6Scenario> = {};
  const thresholds: Record<string, string[]> = {};
  const schedule: Plan['schedule'] = [];
  let start = 0;
  for (const name of SCENARIOS.filter((s) => selected.includes(s))) {
    const seconds = scenarioSeconds(name, p);
    Object.assign(scenarios, k6Scenarios(name, p, start));
    Object.assign(thresholds, k6Thresholds(name, p));
    schedule.push({ name, start, seconds });
    start += seconds + 1;
  }
  return {
    options: {
      scenarios,
      thresholds: { ...thresholds, ...overrides },
      summaryTrendStats: ['med', 'p(95)', 'p(99)', 'max', 'count'],
      setupTimeout: '60s',
      teardownTimeout: '30s',
    },
    schedule,
  };
}

/** `--threshold METRIC=EXPR` (repeatable) → thresholds by metric; throws on a bad one. */
export function parseThresholdOverrides(values: readonly string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    const metric = v.slice(0, eq).trim();
    const expr = v.slice(eq + 1).trim();
    if (eq <= 0 || !metric || !expr || !/[<>=]/.test(expr)) {
      throw new Error(
        `--threshold takes METRIC=EXPR, e.g. 'http_req_duration{name:turn}=p(95)<50'; got '${v}'`,
      );
    }
    out[metric] = [...(out[metric] ?? []), expr];
  }
  return out;
}

/** `--rate launch=300` (repeatable) → the profile's rates with those replaced. */
export function parseRateOverrides(
  values: readonly string[],
  rates: Profile['rates'],
): Profile['rates'] {
  const out = { ...rates };
  for (const v of values) {
    const [name, value] = v.split('=');
    const rate = Number(value);
    if (!name || !Object.hasOwn(rates, name) || !Number.isInteger(rate) || rate < 1) {
      throw new Error(
        `--rate takes NAME=R with NAME one of ${Object.keys(rates).join(', ')} and R a positive integer; got '${v}'`,
      );
    }
    out[name as keyof Profile['rates']] = rate;
  }
  return out;
}

/** `--only a,b` → the scenarios named; throws naming an unknown one. */
export function parseSelection(value: string | undefined): ScenarioName[] {
  if (!value) return [...SCENARIOS];
  const names = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = names.filter((n) => !(SCENARIOS as readonly string[]).includes(n));
  if (unknown.length > 0 || names.length === 0) {
    throw new Error(
      `unknown scenario ${unknown.join(', ') || '(none)'}; choose from ${SCENARIOS.join(', ')}`,
    );
  }
  return names as ScenarioName[];
}
