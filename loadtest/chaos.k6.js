// The chaos scenario's client: launches at a constant arrival rate, holds each session a few
// seconds, then stops it — as an idempotent client would, through any of the control-plane
// replicas: a launch is retried with the same Idempotency-Key (on another replica) after a
// 5xx or a broken connection, a stop is retried likewise, each after the server's
// Retry-After when it gives one. One JSON line per response on
// the log output, for the orchestrator (chaos.ts) to report 5xx and retries.
// Env: BASES (comma-separated replica URLs), TOKEN, TENANT, APP, USERS (comma-separated),
// RATE (launches/s), DURATION (s), HOLD_MS (max hold before the stop).

import { sleep } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';

const bases = __ENV.BASES.split(',');
const users = __ENV.USERS.split(',');
const rate = Number(__ENV.RATE);
const holdMs = Number(__ENV.HOLD_MS);
const ATTEMPTS = 8;

export const options = {
  scenarios: {
    churn: {
      executor: 'constant-arrival-rate',
      rate,
      timeUnit: '1s',
      duration: `${__ENV.DURATION}s`,
      preAllocatedVUs: Math.max(10, Math.ceil((rate * (holdMs + 4_000)) / 1000)),
      maxVUs: Math.max(20, rate * 20),
    },
  },
  summaryTrendStats: ['p(50)', 'p(99)', 'max'],
};

const headers = (key) => ({
  authorization: `Bearer ${__ENV.TOKEN}`,
  'content-type': 'application/json',
  ...(key && { 'idempotency-key': key }),
});

/** The API's error code of a refusal (`no_capacity`), if it has one. */
function errorCode(res) {
  if (res.status < 400) return undefined;
  try {
    return res.json('error.code') ?? undefined;
  } catch {
    return undefined;
  }
}

/** Sends `request` to one replica after another until one answers without a 5xx. */
function withRetries(kind, i, request) {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const base = bases[(i + attempt) % bases.length];
    const res = request(base);
    const line = {
      kind,
      i,
      attempt,
      status: res.status,
      t: Date.now(),
      base,
      code: errorCode(res),
    };
    if (res.status !== 0 && res.status < 500) {
      console.log(JSON.stringify({ ...line, id: res.status < 300 ? res.json('id') : null }));
      return res;
    }
    console.log(JSON.stringify(line));
    // as long as the server asks (Retry-After: a database restarting, a cluster whose
    // capacity a replica taking it over has not read yet), at least a growing backoff
    const asked = Number(res.headers['Retry-After']);
    sleep(Math.max(0.25 * (attempt + 1), Number.isFinite(asked) ? Math.min(asked, 5) : 0));
  }
  return null;
}

export default function () {
  const i = exec.scenario.iterationInTest;
  const key = `chaos-${i}`;
  const body = JSON.stringify({ app: __ENV.APP, user: users[i % users.length] });
  const launched = withRetries('launch', i, (base) =>
    http.post(`${base}/v1/tenants/${__ENV.TENANT}/sessions`, body, {
      headers: headers(key),
      timeout: '10s',
      tags: { name: 'launch' },
    }),
  );
  if (!launched || launched.status >= 300) return; // refused (quota) or never answered
  const id = launched.json('id');
  sleep((holdMs / 2 + (Math.random() * holdMs) / 2) / 1000);
  withRetries('stop', i, (base) =>
    http.del(`${base}/v1/tenants/${__ENV.TENANT}/sessions/${id}`, null, {
      headers: headers(null),
      timeout: '10s',
      tags: { name: 'stop' },
    }),
  );
}
