// Floe's load-test scenarios, run by k6 (loadtest/src/cli.ts starts what they need and runs
// this). Options (scenarios, rates, thresholds) come whole from the runner, built in
// profiles.ts; this file only says what one iteration of each scenario does.
//
// Env: OPTIONS (a JSON file of k6 options), PARAMS (JSON, see below), SUMMARY (where the
// end-of-test data is written as JSON).
// PARAMS: { bases: control-plane URLs (requests go round-robin over the replicas), token: a
//   tenant-admin API key of `tenant`, app, users: user ids to launch for, progressRounds,
//   progressHoldSeconds, wsMessages, gateway: null | { url, cookie, origin, session, endpoint } (a session of the
//   signed-in user the cookie belongs to, running on the echo endpoint at `endpoint`) }
//
// SSE: k6 has no EventSource. A launch-progress stream ends by itself once its session ends
// (an `end` event, then the server closes it), so each client is one plain http.get that
// returns when its stream closes: the time to the first byte measures the subscription,
// and the arrival of the whole body, the moment the `end` reached that client.
import { check, sleep } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { Rate, Trend } from 'k6/metrics';
import { clearTimeout, setTimeout } from 'k6/timers';
import { WebSocket } from 'k6/websockets';

export const options = JSON.parse(open(__ENV.OPTIONS));
const P = JSON.parse(__ENV.PARAMS);

const sseFirstEvent = new Trend('sse_first_event', true);
const sseFanout = new Trend('sse_fanout', true);
const sseFailed = new Rate('sse_failed');
const sseLate = new Rate('sse_late');
const wsEcho = new Trend('ws_echo', true);
const wsFailed = new Rate('ws_failed');

const api = (i) => P.bases[i % P.bases.length];
const auth = { authorization: `Bearer ${P.token}` };
const sessionsUrl = (i) => `${api(i)}/v1/tenants/${P.tenant}/sessions`;

function launchFor(i, name) {
  return http.post(
    sessionsUrl(i),
    JSON.stringify({ app: P.app, user: P.users[i % P.users.length] }),
    {
      headers: { ...auth, 'content-type': 'application/json' },
      tags: { name },
      responseCallback: http.expectedStatuses(201),
    },
  );
}

// The sessions the progress clients follow, one a round, running before the clock starts.
export function setup() {
  const ids = [];
  for (let i = 0; i < P.progressRounds; i++) {
    const res = launchFor(i, 'setup');
    if (res.status !== 201) exec.test.abort(`setup: launch answered ${res.status} ${res.body}`);
    ids.push(res.json('id'));
  }
  for (const id of ids) {
    for (let tries = 0; ; tries++) {
      const res = http.get(`${sessionsUrl(0)}/${id}`, { headers: auth, tags: { name: 'setup' } });
      if (res.status === 200 && res.json('state') === 'running') break;
      if (tries > 100) exec.test.abort(`setup: session ${id} not running (${res.body})`);
      sleep(0.05);
    }
  }
  return { progress: ids };
}

// Launch admission: a launch (its own user in turn), then its stop.
export function launch() {
  const i = exec.scenario.iterationInTest;
  const res = launchFor(i, 'launch');
  if (!check(res, { 'launch: 201': (r) => r.status === 201 })) return;
  const stop = http.del(`${sessionsUrl(i + 1)}/${res.json('id')}`, null, {
    headers: auth,
    tags: { name: 'stop' },
    responseCallback: http.expectedStatuses(200, 202),
  });
  check(stop, { 'stop: 202 or 200': (r) => r.status === 202 || r.status === 200 });
}

// The session list (a page of 50, newest first) and the month's usage, as the console reads them.
export function reads() {
  const i = exec.scenario.iterationInTest;
  const params = { headers: auth, responseCallback: http.expectedStatuses(200) };
  const list = http.get(`${sessionsUrl(i)}?limit=50`, { ...params, tags: { name: 'list' } });
  check(list, {
    'list: 200 with items': (r) => r.status === 200 && Array.isArray(r.json('items')),
  });
  const usage = http.get(`${api(i + 1)}/v1/tenants/${P.tenant}/usage`, {
    ...params,
    tags: { name: 'usage' },
  });
  check(usage, { 'usage: 200': (r) => r.status === 200 });
}

/** The events of an SSE body: [{ event, data }]. */
function sseEvents(body) {
  return String(body)
    .split('\n\n')
    .map((block) => {
      const e = { event: 'message', data: '' };
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) e.event = line.slice(6).trim();
        else if (line.startsWith('data:')) e.data += line.slice(5).trim();
      }
      return e;
    })
    .filter((e) => e.data !== '');
}

// SSE fan-out: every client follows round i's session until its stop reaches it.
export function progress(data) {
  const round = exec.vu.iterationInScenario;
  const id = data.progress[round];
  const res = http.get(`${sessionsUrl(exec.vu.idInTest)}/${id}/progress`, {
    headers: { ...auth, accept: 'text/event-stream' },
    tags: { name: 'progress' },
    timeout: '60s',
    responseCallback: http.expectedStatuses(200),
  });
  const arrived = Date.now();
  const events = res.status === 200 ? sseEvents(res.body) : [];
  const sessions = events.filter((e) => e.event === 'session').map((e) => JSON.parse(e.data));
  const ended = sessions.filter((s) => s.state === 'stopping' || s.state === 'stopped');
  const ok = check(res, {
    'progress: 200': (r) => r.status === 200,
    'progress: a session event first': () => events.length > 0 && events[0].event === 'session',
    'progress: ends with an end event': () =>
      events.length > 0 && events[events.length - 1].event === 'end',
    'progress: saw the stop': () => ended.length > 0,
  });
  sseFailed.add(!ok);
  if (!ok) return;
  sseFirstEvent.add(res.timings.waiting);
  // a client that subscribed after the stop (a slow start) got it right, but measured no
  // fan-out: counted apart, and held to a rate by its own threshold
  const late = sessions[0].state !== 'running';
  sseLate.add(late);
  if (late) return;
  // from the stop (the first ending row's time, this machine's clock) to this client
  const stoppedAt = Math.min(...ended.map((s) => Date.parse(s.updatedAt)));
  sseFanout.add(arrived - stoppedAt);
}

export function progressStopper(data) {
  const round = exec.vu.iterationInScenario;
  sleep(P.progressHoldSeconds);
  const res = http.del(`${sessionsUrl(round)}/${data.progress[round]}`, null, {
    headers: auth,
    tags: { name: 'progress_stop' },
    responseCallback: http.expectedStatuses(202),
  });
  check(res, { 'progress stop: 202': (r) => r.status === 202 });
}

const gw = P.gateway;
const gwHeaders = gw ? { cookie: gw.cookie } : {};

// The gateway's proxy: an authenticated, authorised GET through to the session's endpoint;
// then the same GET to the endpoint itself, the peer that says what the gateway adds.
export function proxy() {
  const params = {
    responseType: 'none',
    redirects: 0,
    responseCallback: http.expectedStatuses(200),
  };
  const res = http.get(`${gw.url}/sessions/${gw.session}/x`, {
    ...params,
    headers: gwHeaders,
    tags: { name: 'proxy' },
  });
  check(res, { 'proxy: 200': (r) => r.status === 200 });
  const direct = http.get(`${gw.endpoint}/x`, { ...params, tags: { name: 'direct' } });
  check(direct, { 'direct: 200': (r) => r.status === 200 });
}

// TURN credentials: the gateway mints them per request for the session's ICE servers.
export function turn() {
  const res = http.get(`${gw.url}/sessions/${gw.session}/turn`, {
    headers: gwHeaders,
    tags: { name: 'turn' },
    responseCallback: http.expectedStatuses(200),
  });
  check(res, {
    'turn: 200': (r) => r.status === 200,
    'turn: a credential for this session': (r) =>
      r.status === 200 && String(r.json('iceServers.0.username')).endsWith(`:${gw.session}`),
  });
}

// A WebSocket through the gateway (the signalling's path): open, then wsMessages messages,
// each sent once the one before came back, then close.
export function websocket() {
  const url = `${gw.url.replace(/^http/, 'ws')}/sessions/${gw.session}/signal`;
  const ws = new WebSocket(url, null, { headers: { ...gwHeaders, origin: gw.origin } });
  let sentAt = 0;
  let echoed = 0;
  let done = false;
  let timer = null;
  const finish = (ok) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    wsFailed.add(!ok);
    check(null, { 'websocket: every message echoed': () => ok });
    ws.close();
  };
  const next = () => {
    sentAt = Date.now();
    ws.send(`message ${echoed}`);
  };
  ws.onopen = () => next();
  ws.onmessage = (e) => {
    if (e.data !== `message ${echoed}`) return finish(false);
    wsEcho.add(Date.now() - sentAt);
    echoed++;
    if (echoed < P.wsMessages) next();
    else finish(true);
  };
  ws.onerror = () => finish(false);
  ws.onclose = () => finish(echoed === P.wsMessages);
  timer = setTimeout(() => finish(false), 10_000);
}

export function handleSummary(data) {
  return { [__ENV.SUMMARY]: JSON.stringify(data) };
}
