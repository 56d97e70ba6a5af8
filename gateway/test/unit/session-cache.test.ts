// The gateway's cache of running sessions (ControlClient.session/cachedSession) against a
// small control plane stand-in on loopback that counts lookups and is told what to answer:
// a hit past half its second is looked up again in the background while it still serves,
// so steady traffic never waits; and no answer is ever older than the second.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ControlClient } from '../../src/control-client.ts';

const ID = '01a2a3a4-0000-7000-8000-000000000000';

function body(state: string, grants = 0) {
  return {
    id: ID,
    tenantId: 't1',
    userId: 'u1',
    state,
    endpoint: state === 'running' ? 'http://127.0.0.1:9/' : null,
    grants: Array.from({ length: grants }, (_, i) => ({
      id: `g${i}`,
      kind: 'user',
      userId: `u${i + 2}`,
      role: 'viewer',
      expiresAt: null,
    })),
  };
}

describe('the running-session cache', () => {
  let server: Server;
  let client: ControlClient;
  let lookups = 0;
  let answer: { status: number; state?: string; delayMs?: number; grants?: number };

  beforeEach(async () => {
    lookups = 0;
    answer = { status: 200, state: 'running' };
    server = createServer((_req, res) => {
      lookups++;
      // what is answered is decided on arrival, as the control plane reads its database
      const { status, state, delayMs = 0, grants } = answer;
      setTimeout(() => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(state ? JSON.stringify(body(state, grants)) : '{}');
      }, delayMs);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    client = new ControlClient({ url: `http://127.0.0.1:${port}`, token: 't', tenantCacheMs: 0 });
  });
  afterEach(() => new Promise<void>((r) => server.close(() => r())));

  it('refreshes a half-second-old hit in the background, and serves it meanwhile', async () => {
    expect((await client.session(ID))?.state).toBe('running');
    expect(lookups).toBe(1);
    expect(client.cachedSession(ID)?.state).toBe('running');
    expect(lookups).toBe(1); // fresh: no lookup

    await sleep(600);
    answer = { status: 200, state: 'running', delayMs: 300 };
    // past half its life: served at once, and one lookup starts however often it is asked
    for (let i = 0; i < 50; i++) expect(client.cachedSession(ID)?.state).toBe('running');
    await sleep(100);
    expect(lookups).toBe(2);
    // the refreshed answer carries it past the first answer's second, with no miss between
    await sleep(450);
    expect(client.cachedSession(ID)?.state).toBe('running');
    expect(lookups).toBe(2);
  });

  it('drops a session the background lookup finds stopped or gone', async () => {
    await client.session(ID);
    await sleep(600);
    answer = { status: 200, state: 'stopped' };
    expect(client.cachedSession(ID)?.state).toBe('running'); // still within its second
    await sleep(100);
    expect(client.cachedSession(ID)).toBeUndefined();
    expect((await client.session(ID))?.state).toBe('stopped');

    answer = { status: 200, state: 'running' };
    await client.session(ID);
    await sleep(600);
    answer = { status: 404 };
    client.cachedSession(ID);
    await sleep(100);
    expect(client.cachedSession(ID)).toBeUndefined();
    expect(await client.session(ID)).toBeNull();
  });

  it('never serves an answer older than the second when the control plane fails', async () => {
    await client.session(ID);
    await sleep(600);
    answer = { status: 503 };
    expect(client.cachedSession(ID)?.state).toBe('running');
    await sleep(500); // the first answer's second is over, and its refresh failed
    expect(client.cachedSession(ID)).toBeUndefined();
    await expect(client.session(ID)).rejects.toThrow(/session lookup answered 503/);
  });

  it('keeps no answer of a refresh that a forget overtook (a grant changed meanwhile)', async () => {
    await client.session(ID);
    await sleep(600);
    answer = { status: 200, state: 'running', delayMs: 300 };
    client.cachedSession(ID); // a refresh starts, and answers late: the grants before
    await sleep(50);
    await client.forgetSession(ID); // a share through this gateway
    answer = { status: 200, state: 'running', grants: 1, delayMs: 400 };
    const fresh = client.session(ID); // the next request asks again, and waits longer
    await sleep(300); // the refresh from before the share has answered by now
    expect(client.cachedSession(ID)).toBeUndefined(); // not its grants of before
    expect((await fresh)?.grants).toHaveLength(1);
    expect(client.cachedSession(ID)?.grants).toHaveLength(1);
  });

  it('forgets a session stopped through this gateway at once, refresh or not', async () => {
    await client.session(ID);
    await sleep(600);
    answer = { status: 200, state: 'running', delayMs: 200 };
    client.cachedSession(ID); // starts the refresh
    await client.forgetSession(ID); // a stop forwarded meanwhile wins over the refresh
    await sleep(300);
    expect(client.cachedSession(ID)).toBeUndefined();
  });
});
