// The streamer's signalling server and operations endpoints, on the bare source (no X).

import type {} from '@floe/testbed/vitest-setup';
import { mintTurnCredentials } from '@floe/turn';
import { pino } from 'pino';
import { afterEach, describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';
import { loadStreamerConfig } from '../src/config.ts';
import { bareDesktop } from '../src/desktop.ts';
import { CLOSE_CODES, type ServerSignal } from '../src/protocol.ts';
import { type Streamer, startStreamer } from '../src/streamer.ts';

const streamers: Streamer[] = [];
afterEach(async () => {
  await Promise.all(streamers.splice(0).map((s) => s.close()));
});

async function start(env: Record<string, string> = {}) {
  const config = loadStreamerConfig({ DISPLAY: ':0', FLOE_STREAMER_PORT: '0', ...env });
  const streamer = await startStreamer(config, bareDesktop(640, 480), pino({ level: 'silent' }));
  streamers.push(streamer);
  return streamer;
}

/** A signalling client that records what it receives and how the socket closed. */
function connect(streamer: Streamer, path = 'signal') {
  const ws = new WebSocket(new URL(path, streamer.url.replace('http', 'ws')));
  const messages: ServerSignal[] = [];
  ws.on('message', (data) => messages.push(JSON.parse(data.toString())));
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const next = async (type: ServerSignal['type']) => {
    for (let i = 0; i < 200; i++) {
      const found = messages.find((m) => m.type === type);
      if (found) return found;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`no ${type} message; got ${JSON.stringify(messages)}`);
  };
  return { ws, messages, closed, opened, next };
}

describe('signalling', () => {
  it('welcomes a viewer with the display, codecs and minted TURN credentials', async () => {
    const streamer = await start({
      FLOE_TURN_URLS: 'turn:127.0.0.1:3478?transport=udp',
      FLOE_TURN_SECRET: 'shh',
      FLOE_SESSION_ID: 'sess-1',
      FLOE_STREAMER_CODECS: 'VP8,H264',
      FLOE_TURN_HEALTH_INTERVAL_MS: '0', // nothing listens there; offer it unprobed
    });
    const client = connect(streamer);
    const welcome = await client.next('welcome');
    expect(welcome).toMatchObject({
      protocolVersion: 1,
      display: { width: 640, height: 480 },
      codecs: ['VP8', 'H264'],
      resizable: false,
    });
    const [server] = welcome.type === 'welcome' ? welcome.iceServers : [];
    expect(server?.urls).toEqual(['turn:127.0.0.1:3478?transport=udp']);
    expect(server?.username).toMatch(/^\d+:sess-1$/);
    expect(Number(server?.username?.split(':')[0])).toBeGreaterThan(Date.now() / 1000);
    client.ws.close();
  });

  it('offers only TURN servers that answer a real allocation', async () => {
    const { turn } = inject('testbed');
    const dead = 'turn:127.0.0.1:9?transport=udp'; // discard port: nothing answers
    const streamer = await start({
      FLOE_TURN_URLS: `${dead},${turn.url}`,
      FLOE_TURN_SECRET: turn.secret,
      FLOE_TURN_HEALTH_INTERVAL_MS: '200',
    });
    const offered = async () => {
      const client = connect(streamer);
      const welcome = await client.next('welcome');
      client.ws.close();
      return welcome.type === 'welcome' ? welcome.iceServers.flatMap((s) => s.urls) : [];
    };
    await expect.poll(offered, { timeout: 15_000 }).toEqual([turn.url]);
  });

  it('probes with the credential minted for its session, and offers only servers that answer', async () => {
    // What the local cluster gives a session: URLs and a credential, never the secret. A dead
    // server offered would hold each open for werift's allocation tries (issue 13).
    const { turn } = inject('testbed');
    const dead = 'turn:127.0.0.1:9?transport=udp';
    const minted = mintTurnCredentials({ secret: turn.secret, sessionId: 'sess-2' });
    const streamer = await start({
      FLOE_TURN_URLS: `${dead},${turn.url}`,
      FLOE_TURN_USERNAME: minted.username,
      FLOE_TURN_CREDENTIAL: minted.credential,
      FLOE_TURN_HEALTH_INTERVAL_MS: '200',
    });
    const offered = async () => {
      const client = connect(streamer);
      const welcome = await client.next('welcome');
      client.ws.close();
      return welcome.type === 'welcome' ? welcome.iceServers : [];
    };
    await expect
      .poll(offered, { timeout: 15_000 })
      .toEqual([{ urls: [turn.url], username: minted.username, credential: minted.credential }]);
  });

  it('works under a proxy prefix, and nothing else upgrades', async () => {
    const streamer = await start();
    const prefixed = connect(streamer, 'sessions/abc/signal');
    await prefixed.next('welcome');
    prefixed.ws.close();
    const wrong = connect(streamer, 'elsewhere');
    await expect(wrong.opened).rejects.toThrow(/404/);
  });

  it('refuses malformed messages with a clear error and close code', async () => {
    const streamer = await start();
    for (const bad of ['not json', '{"type":"offer"}', '{"type":"launch"}', '[]']) {
      const client = connect(streamer);
      await client.next('welcome');
      client.ws.send(bad);
      const error = await client.next('error');
      expect(error).toMatchObject({ code: 'bad_message' });
      expect(await client.closed).toBe(CLOSE_CODES.badMessage);
    }
    // the server is still fine, and says what it can encode with
    const health = async () => (await fetch(new URL('healthz', streamer.url))).json();
    expect(await health()).toMatchObject({ status: 'ok', viewers: 0 });
    await expect
      .poll(async () => (await health()).encoders, { timeout: 10_000 })
      .toMatchObject({ x264enc: true, vp8enc: true });
  });

  it('refuses an offer without a codec it can send', async () => {
    const streamer = await start({ FLOE_STREAMER_CODECS: 'H264' });
    const client = connect(streamer);
    await client.next('welcome');
    const sdp =
      'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n';
    client.ws.send(JSON.stringify({ type: 'offer', sdp }));
    expect(await client.next('error')).toMatchObject({ code: 'no_common_codec' });
  });

  it('policy refuse: a second viewer is turned away and the first keeps control', async () => {
    const streamer = await start({ FLOE_STREAMER_VIEWER_POLICY: 'refuse' });
    const first = connect(streamer);
    await first.next('welcome');
    const second = connect(streamer);
    expect(await second.next('error')).toMatchObject({ code: 'busy' });
    expect(await second.closed).toBe(CLOSE_CODES.busy);
    expect(first.ws.readyState).toBe(WebSocket.OPEN);
    const metrics = await (await fetch(new URL('metrics', streamer.url))).text();
    expect(metrics).toMatch(/floe_streamer_connections_total\{outcome="refused"\} 1/);
    expect(metrics).toMatch(/floe_streamer_viewers 1/);
    first.ws.close();
  });

  it('policy takeover: the newer viewer takes control and the first is told why', async () => {
    const streamer = await start({ FLOE_STREAMER_VIEWER_POLICY: 'takeover' });
    const first = connect(streamer);
    await first.next('welcome');
    const second = connect(streamer);
    await second.next('welcome');
    expect(await first.next('error')).toMatchObject({ code: 'taken_over' });
    expect(await first.closed).toBe(CLOSE_CODES.takenOver);
    expect(second.ws.readyState).toBe(WebSocket.OPEN);
    second.ws.close();
  });

  it('policy share: a second connection watches alongside the first', async () => {
    const streamer = await start({ FLOE_STREAMER_VIEWER_POLICY: 'share' });
    const first = connect(streamer);
    await first.next('welcome');
    const second = connect(streamer);
    await second.next('welcome');
    expect(first.ws.readyState).toBe(WebSocket.OPEN);
    const health = await (await fetch(new URL('healthz', streamer.url))).json();
    expect(health.viewers).toBe(2);
    first.ws.close();
    second.ws.close();
  });
});
