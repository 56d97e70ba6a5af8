// k6's end-of-test data (what handleSummary receives, written as JSON by floe.k6.js) read into
// the results table and the list of thresholds that were crossed: pure functions.
import type { Plan, Row } from './profiles.ts';

/** The part of k6's summary data this reads. */
export interface K6Summary {
  metrics: Record<
    string,
    {
      type: string;
      values: Record<string, number>;
      thresholds?: Record<string, { ok: boolean }>;
    }
  >;
}

export interface ResultRow {
  scenario: string;
  what: string;
  /** samples per second over the scenario's run */
  rate: number;
  count: number;
  p50: number;
  p95: number;
  p99: number;
  failed: number;
}

/** The table's rows: every row of the plan's scenarios, from their metrics. */
export function resultRows(
  summary: K6Summary,
  rows: Row[],
  schedule: Plan['schedule'],
): ResultRow[] {
  const out: ResultRow[] = [];
  for (const { name, seconds } of schedule) {
    for (const row of rows.filter((r) => r.scenario === name)) {
      const latency = summary.metrics[row.latency]?.values ?? {};
      const failed = summary.metrics[row.failed]?.values ?? {};
      // a Rate's passes are its true samples: the failures
      const count = latency.count ?? 0;
      out.push({
        scenario: name,
        what: row.what,
        rate: count / seconds,
        count,
        p50: latency.med ?? Number.NaN,
        p95: latency['p(95)'] ?? Number.NaN,
        p99: latency['p(99)'] ?? Number.NaN,
        failed: failed.passes ?? 0,
      });
    }
  }
  return out;
}

export interface Crossed {
  metric: string;
  threshold: string;
  /** the value the threshold's statistic had, when it names one k6 reported */
  actual: number | undefined;
}

/** The thresholds k6 found crossed, with what their statistic measured. */
export function crossedThresholds(summary: K6Summary): Crossed[] {
  const out: Crossed[] = [];
  for (const [metric, m] of Object.entries(summary.metrics)) {
    for (const [threshold, { ok }] of Object.entries(m.thresholds ?? {})) {
      if (ok) continue;
      const stat = threshold.match(/^\s*([a-z]+(?:\([\d.]+\))?)\s*[<>=!]/)?.[1];
      out.push({ metric, threshold, actual: stat === undefined ? undefined : m.values[stat] });
    }
  }
  return out;
}

const ms = (n: number) => (Number.isFinite(n) ? n.toFixed(n < 10 ? 2 : 1) : '–');

/** The results as a Markdown table (it reads as plain text on a terminal too). */
export function markdownTable(rows: ResultRow[]): string {
  const lines = [
    '| scenario | measured | rate /s | p50 ms | p95 ms | p99 ms | failures |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${r.scenario} | ${r.what} | ${r.rate.toFixed(1)} | ${ms(r.p50)} | ${ms(r.p95)} | ` +
        `${ms(r.p99)} | ${r.failed} of ${r.count} |`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * What the gateway adds over its peer (the same request straight to the endpoint, same rate,
 * same run): a sentence, or null when the run had no proxy scenario.
 */
export function peerLine(rows: ResultRow[]): string | null {
  const gateway = rows.find((r) => r.what.startsWith('gateway → session'));
  const direct = rows.find((r) => r.what.startsWith('session GET, direct'));
  if (!gateway || !direct || gateway.count === 0 || direct.count === 0) return null;
  const added = (k: 'p50' | 'p99') =>
    `${ms(gateway[k] - direct[k])} ms (${(gateway[k] / direct[k]).toFixed(1)}×)`;
  return `The gateway adds p50 ${added('p50')}, p99 ${added('p99')} over the direct request.`;
}

/** How many SSE clients subscribed only after their session's stop (no fan-out measured). */
export function lateLine(summary: K6Summary): string | null {
  const late = summary.metrics.sse_late?.values;
  if (!late) return null;
  const total = (late.passes ?? 0) + (late.fails ?? 0);
  return `SSE clients that subscribed only after the stop (not in the fan-out): ${late.passes ?? 0} of ${total}.`;
}

/** The message of a run whose thresholds were crossed: one line each. */
export function crossedMessage(crossed: Crossed[]): string {
  const lines = crossed.map(
    (c) =>
      `  ${c.metric}: ${c.threshold}` +
      (c.actual === undefined
        ? ''
        : ` (was ${Number.isInteger(c.actual) ? c.actual : c.actual.toFixed(3)})`),
  );
  return `loadtest: ${crossed.length} threshold(s) crossed:\n${lines.join('\n')}\n`;
}
