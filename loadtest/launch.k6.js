// Launches sessions at a constant arrival rate through the control plane's API, each for its
// own user, cycling over the apps. One JSON line per launch on stdout ({"id", "t0"}): the
// orchestrator (k8s-launch.ts) joins them with the sessions' 'running' events.
// Env: BASE, TOKEN, TENANT, APPS (comma-separated), USERS_FILE (one user id a line), RATE, COUNT.
import exec from 'k6/execution';
import http from 'k6/http';

const rate = Number(__ENV.RATE);
const count = Number(__ENV.COUNT);
const apps = __ENV.APPS.split(',');
// a file: 10,000 ids are more than an environment variable may hold
const users = open(__ENV.USERS_FILE).trim().split('\n');

export const options = {
  scenarios: {
    launches: {
      executor: 'constant-arrival-rate',
      rate,
      timeUnit: '1s',
      duration: `${Math.ceil(count / rate)}s`,
      preAllocatedVUs: Math.max(10, Math.ceil(rate / 2)),
      maxVUs: rate * 4,
    },
  },
  // the launches are the measurement; k6's own summary only says how the client kept up
  summaryTrendStats: ['p(50)', 'p(99)', 'max'],
};

export default function () {
  const i = exec.scenario.iterationInTest;
  if (i >= count) return;
  const t0 = Date.now();
  const res = http.post(
    `${__ENV.BASE}/v1/tenants/${__ENV.TENANT}/sessions`,
    JSON.stringify({ app: apps[i % apps.length], user: users[i % users.length] }),
    {
      headers: { authorization: `Bearer ${__ENV.TOKEN}`, 'content-type': 'application/json' },
      tags: { name: 'launch' },
    },
  );
  const id = res.status === 201 ? res.json('id') : null;
  console.log(JSON.stringify({ i, id, t0, status: res.status, ms: res.timings.duration }));
}
