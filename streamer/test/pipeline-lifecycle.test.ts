// Every encoder pipeline the streamer starts is stopped exactly once, with real pipelines
// (floe_pipeline.py on GStreamer), a real Xorg and a real WebRTC viewer (werift in this
// process): a resize right after connecting, a burst of resizes, a viewer leaving and the
// streamer stopping must leave no floe_pipeline.py behind. And a command written to a
// pipeline that already died is dropped, not an unhandled EPIPE.

import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type {} from '@floe/testbed/vitest-setup';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RTCPeerConnection, RTCRtpCodecParameters } from 'werift';
import WebSocket from 'ws';
import { loadStreamerConfig } from '../src/config.ts';
import type { Desktop } from '../src/desktop.ts';
import { startPipeline } from '../src/pipeline.ts';
import { INPUT_CHANNEL, type ServerSignal } from '../src/protocol.ts';
import { type Streamer, startStreamer } from '../src/streamer.ts';
import { type DisplayServer, startDisplayServer } from '../src/x11/display-server.ts';
import { openX11Desktop } from '../src/x11-desktop.ts';

const log = pino({ level: 'silent' });

/** floe_pipeline.py processes whose parent is this test process (the streamer runs here). */
function pipelineProcesses(source?: string): { pid: number; argv: string[] }[] {
  const found: { pid: number; argv: string[] }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (!argv.some((a) => a.endsWith('floe_pipeline.py'))) continue;
      if (source && !argv.includes(`--source=${source}`)) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) === process.pid && state !== 'Z') found.push({ pid: Number(entry), argv });
    } catch {
      // the process went away while we read it
    }
  }
  return found;
}

/** The sizes this process's X pipelines capture, e.g. ['1024x768']. */
function pipelineSizes(): string[] {
  return pipelineProcesses('x11').map(({ argv }) => {
    const arg = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
    return `${arg('width')}x${arg('height')}`;
  });
}

describe('a pipeline that is gone', () => {
  it('takes a keyframe or bitrate request after its process died without an unhandled EPIPE', async () => {
    const before = new Set(pipelineProcesses('bare').map((p) => p.pid));
    const pipeline = await startPipeline({
      source: 'bare',
      display: '',
      width: 320,
      height: 240,
      fps: 30,
      codec: 'VP8',
      h264Encoder: 'auto',
      kbps: 500,
      python: '/usr/bin/python3',
      onRtp: () => {},
    });
    const [pid] = pipelineProcesses('bare')
      .map((p) => p.pid)
      .filter((p) => !before.has(p));
    expect(pid).toBeDefined();
    process.kill(pid!, 'SIGKILL');
    // Block until every thread of it has closed its files: Node has not seen the exit yet, so
    // the writes below reach a pipe with no reader, as when a session is stopped under a viewer.
    const openFiles = () => {
      try {
        return readdirSync(`/proc/${pid}/task`).some(
          (tid) => readdirSync(`/proc/${pid}/task/${tid}/fd`).length > 0,
        );
      } catch {
        return false;
      }
    };
    const deadline = Date.now() + 5000;
    while (openFiles() && Date.now() < deadline);
    pipeline.keyframe();
    pipeline.setBitrate(800);
    await new Promise((r) => setTimeout(r, 200)); // an unhandled 'error' would surface here
    pipeline.keyframe();
    await pipeline.stop();
    await pipeline.stop();
  });
});

describe('the streamer stops every pipeline it starts exactly once', () => {
  let work: string;
  let server: DisplayServer;
  let slowPython: string;
  const streamers: Streamer[] = [];
  const desktops: Desktop[] = [];
  const clients: RTCPeerConnection[] = [];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'floe-pipeline-lifecycle-'));
    server = await startDisplayServer({ width: 800, height: 600, workDir: work });
    // An encoder as slow to start as on a cold node (Python and GStreamer imports, NVENC
    // init): the input channel then opens, and a resize arrives, before the first pipeline
    // is ready. Same python3, same pipeline; it only starts 700 ms later.
    slowPython = join(work, 'slow-python3');
    writeFileSync(slowPython, '#!/bin/sh\nsleep 0.7\nexec /usr/bin/python3 "$@"\n', {
      mode: 0o755,
    });
  });
  afterEach(async () => {
    await Promise.allSettled(clients.splice(0).map((pc) => pc.close()));
    await Promise.allSettled(streamers.splice(0).map((s) => s.close()));
    await Promise.allSettled(desktops.splice(0).map((d) => d.close()));
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  async function start() {
    const config = loadStreamerConfig({
      DISPLAY: server.display,
      FLOE_STREAMER_PORT: '0',
      FLOE_STREAMER_CODECS: 'VP8',
      FLOE_STREAMER_AUDIO: 'off',
      FLOE_STREAMER_PYTHON: slowPython,
    });
    const desktop = await openX11Desktop(server.display, log);
    desktops.push(desktop);
    const streamer = await startStreamer(config, desktop, log);
    streamers.push(streamer);
    return streamer;
  }

  /** A viewer as the browser is one: offers recvonly VP8 and an input channel, trickles ICE. */
  async function connect(streamer: Streamer) {
    const ws = new WebSocket(new URL('signal', streamer.url.replace('http', 'ws')));
    const pc = new RTCPeerConnection({
      codecs: {
        video: [new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90_000 })],
      },
    });
    clients.push(pc);
    pc.addTransceiver('video', { direction: 'recvonly' });
    const channel = pc.createDataChannel(INPUT_CHANNEL);
    pc.onIceCandidate.subscribe((candidate) => {
      if (ws.readyState === ws.OPEN)
        ws.send(JSON.stringify({ type: 'ice', candidate: candidate?.toJSON() ?? null }));
    });
    ws.on('message', async (data) => {
      const message = JSON.parse(data.toString()) as ServerSignal;
      if (message.type === 'answer')
        await pc.setRemoteDescription({ type: 'answer', sdp: message.sdp });
      else if (message.type === 'ice' && message.candidate)
        await pc.addIceCandidate(message.candidate).catch(() => {});
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    await pc.setLocalDescription(await pc.createOffer());
    ws.send(JSON.stringify({ type: 'offer', sdp: pc.localDescription!.sdp }));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('input channel never opened')), 15_000);
      channel.stateChanged.subscribe((state) => {
        if (state !== 'open') return;
        clearTimeout(timer);
        resolve();
      });
    });
    const resize = (width: number, height: number) =>
      channel.send(JSON.stringify({ t: 'resize', width, height }));
    return { ws, pc, resize };
  }

  /** The pipelines settle at exactly one, capturing the display at `size`. */
  async function expectOnePipelineAt(size: { width: number; height: number }) {
    const only = [`${size.width}x${size.height}`];
    await expect.poll(pipelineSizes, { timeout: 20_000, interval: 100 }).toEqual(only);
    // a leaked start would land after the last restart: give it time to show up
    await new Promise((r) => setTimeout(r, 1500));
    expect(pipelineSizes()).toEqual(only);
  }

  it('resize at once after connecting: one pipeline at the new size, none after the viewer leaves', async () => {
    const streamer = await start();
    const viewer = await connect(streamer);
    viewer.resize(1024, 768); // as the page does the moment its input channel opens
    await expectOnePipelineAt({ width: 1024, height: 768 });
    viewer.ws.close();
    await expect.poll(pipelineSizes, { timeout: 10_000 }).toEqual([]);
  }, 60_000);

  it('a burst of resizes: one pipeline at the last size, none after the streamer stops', async () => {
    const streamer = await start();
    const viewer = await connect(streamer);
    for (const [w, h] of [
      [900, 700],
      [1000, 640],
      [1100, 660],
      [1280, 720],
    ] as const)
      viewer.resize(w, h);
    await new Promise((r) => setTimeout(r, 250));
    viewer.resize(1200, 800);
    await new Promise((r) => setTimeout(r, 400));
    viewer.resize(1000, 600);
    await expectOnePipelineAt({ width: 1000, height: 600 });
    await streamer.close();
    expect(pipelineSizes()).toEqual([]);
  }, 60_000);
});
