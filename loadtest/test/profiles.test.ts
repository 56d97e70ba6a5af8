import { describe, expect, test } from 'vitest';
import {
  PROFILES,
  parseRateOverrides,
  parseSelection,
  parseThresholdOverrides,
  plan,
  ROWS,
  SCENARIOS,
  scenarioSeconds,
} from '../src/profiles.ts';
import {
  crossedThresholds,
  lateLine,
  markdownTable,
  peerLine,
  resultRows,
} from '../src/summary.ts';

describe('plan', () => {
  test('runs the selected scenarios one after another, a second apart', () => {
    const p = PROFILES.full;
    const { schedule, options } = plan(p, ['turn', 'launch', 'progress']);
    expect(schedule.map((s) => s.name)).toEqual(['launch', 'progress', 'turn']);
    expect(schedule[0]!.start).toBe(0);
    expect(schedule[1]!.start).toBe(p.seconds + 1);
    expect(schedule[2]!.start).toBe(p.seconds + 1 + scenarioSeconds('progress', p) + 1);
    expect(Object.keys(options.scenarios).sort()).toEqual([
      'launch',
      'progress',
      'progress_stopper',
      'turn',
    ]);
    // the progress clients and their stopper start together
    expect(options.scenarios.progress!.startTime).toBe(
      options.scenarios.progress_stopper!.startTime,
    );
    expect(options.scenarios.turn!.startTime).toBe(`${schedule[2]!.start}s`);
  });

  test('holds every row of every scenario to failures, p95 and p99, and its checks', () => {
    const { options } = plan(PROFILES.smoke, SCENARIOS);
    for (const row of ROWS) {
      expect(options.thresholds[row.failed]).toEqual(['rate<0.01']);
      expect(options.thresholds[row.latency]).toHaveLength(2);
      expect(options.thresholds[row.latency]![0]).toMatch(/^p\(95\)<\d+$/);
      expect(options.thresholds[`checks{scenario:${row.scenario}}`]).toEqual(['rate>0.99']);
    }
  });

  test.each([
    ['launch', 'http_req_duration{name:launch}', PROFILES.full.limits.api],
    ['proxy', 'http_req_duration{name:proxy}', PROFILES.full.limits.proxy],
    ['progress', 'sse_fanout', PROFILES.full.limits.fanout],
    ['progress', 'sse_first_event', PROFILES.full.limits.fanout],
  ] as const)('%s: %s is held to its limits', (name, metric, l) => {
    const { options } = plan(PROFILES.full, [name]);
    expect(options.thresholds[metric]).toEqual([`p(95)<${l.p95}`, `p(99)<${l.p99}`]);
  });

  test('progress: most clients must have subscribed before the stop', () => {
    expect(plan(PROFILES.full, ['progress']).options.thresholds.sse_late).toEqual(['rate<0.05']);
    expect(plan(PROFILES.full, ['reads']).options.thresholds.sse_late).toBeUndefined();
  });

  test('an override replaces the metric’s thresholds and leaves the others', () => {
    const { options } = plan(PROFILES.smoke, ['reads'], {
      'http_req_duration{name:list}': ['p(95)<1'],
    });
    expect(options.thresholds['http_req_duration{name:list}']).toEqual(['p(95)<1']);
    expect(options.thresholds['http_req_duration{name:usage}']).toHaveLength(2);
  });
});

describe('flags', () => {
  test.each([
    [[], {}],
    [['a=p(95)<5'], { a: ['p(95)<5'] }],
    [['a=p(95)<5', 'a=rate>=0.5'], { a: ['p(95)<5', 'rate>=0.5'] }],
    [['http_req_duration{name:turn}=p(99)<20'], { 'http_req_duration{name:turn}': ['p(99)<20'] }],
  ])('--threshold %j', (values, expected) => {
    expect(parseThresholdOverrides(values)).toEqual(expected);
  });

  test.each([['nometric'], ['=p(95)<5'], ['a='], ['a=p95']])('--threshold %s is refused', (v) => {
    expect(() => parseThresholdOverrides([v])).toThrow(/METRIC=EXPR/);
  });

  test('--rate replaces the rates named, and only those', () => {
    const { rates } = PROFILES.full;
    expect(parseRateOverrides([], rates)).toEqual(rates);
    expect(parseRateOverrides(['launch=300', 'turn=7'], rates)).toEqual({
      ...rates,
      launch: 300,
      turn: 7,
    });
  });

  test.each([['launch'], ['launch=0'], ['launch=1.5'], ['progress=5'], ['toString=5']])(
    '--rate %s is refused',
    (v) => {
      expect(() => parseRateOverrides([v], PROFILES.full.rates)).toThrow(/NAME=R/);
    },
  );

  test.each([
    [undefined, [...SCENARIOS]],
    ['turn', ['turn']],
    ['reads, launch', ['reads', 'launch']],
  ])('--only %s', (value, expected) => {
    expect(parseSelection(value)).toEqual(expected);
  });

  test.each([['nope'], [','], ['reads,nope']])('--only %s is refused', (value) => {
    expect(() => parseSelection(value)).toThrow(/unknown scenario/);
  });
});

describe('summary', () => {
  const summary = {
    metrics: {
      'http_req_duration{name:list}': {
        type: 'trend',
        values: { med: 3, 'p(95)': 5.5, 'p(99)': 12.25, max: 20, count: 40 },
        thresholds: { 'p(95)<500': { ok: true }, 'p(99)<10': { ok: false } },
      },
      'http_req_failed{name:list}': {
        type: 'rate',
        values: { rate: 0.05, passes: 2, fails: 38 },
        thresholds: { 'rate<0.01': { ok: false } },
      },
    },
  };

  test('rows: rate over the scenario’s seconds, percentiles, failures of the count', () => {
    const rows = resultRows(summary, ROWS, [{ name: 'reads', start: 0, seconds: 4 }]);
    expect(rows[0]).toEqual({
      scenario: 'reads',
      what: 'GET sessions (50 a page)',
      rate: 10,
      count: 40,
      p50: 3,
      p95: 5.5,
      p99: 12.25,
      failed: 2,
    });
    // usage has no samples: shown, with nothing measured
    expect(rows[1]).toMatchObject({ what: 'GET usage', count: 0, failed: 0 });
    expect(markdownTable(rows)).toContain(
      '| reads | GET sessions (50 a page) | 10.0 | 3.00 | 5.50 | 12.3 | 2 of 40 |',
    );
    expect(markdownTable(rows)).toContain('| reads | GET usage | 0.0 | – | – | – | 0 of 0 |');
  });

  test('crossed thresholds with the value their statistic had', () => {
    expect(crossedThresholds(summary)).toEqual([
      { metric: 'http_req_duration{name:list}', threshold: 'p(99)<10', actual: 12.25 },
      { metric: 'http_req_failed{name:list}', threshold: 'rate<0.01', actual: 0.05 },
    ]);
  });

  test('what the gateway adds over the direct peer', () => {
    const row = { scenario: 'proxy', rate: 100, count: 200, failed: 0, p95: 0 };
    const rows = [
      { ...row, what: 'gateway → session GET', p50: 1.5, p99: 12 },
      { ...row, what: 'session GET, direct (peer)', p50: 0.5, p99: 3 },
    ];
    expect(peerLine(rows)).toBe(
      'The gateway adds p50 1.00 ms (3.0×), p99 9.00 ms (4.0×) over the direct request.',
    );
    expect(peerLine(rows.slice(0, 1))).toBeNull();
  });

  test('late SSE clients, when the run had the progress scenario', () => {
    const late = { type: 'rate', values: { rate: 0.1, passes: 2, fails: 18 } };
    expect(lateLine({ metrics: { sse_late: late } })).toMatch(/: 2 of 20\.$/);
    expect(lateLine(summary)).toBeNull();
  });
});
