/**
 * Opening a stream, again and again: an X app (the probe) on a real Xorg, the streamer with a
 * TURN credential minted for its session (as the local cluster starts it), and the built
 * stream page in headless Chromium under its default ICE policy, so the browser trickles its
 * mDNS host candidates, srflx and relay candidates as it does for a user.
 *
 * Issue 13: 2 opens out of 6 showed 10 s of black screen. Each open here is timed in the page
 * itself, from the moment the page makes its signalling WebSocket to the first video frame
 * presented (requestVideoFrameCallback), so neither the browser's nor the test's setup counts.
 * The limit is no benchmark (docs/benchmarks.md has the distribution): it catches a stall,
 * which is 5x to 10x an ordinary open.
 */

import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { launchChromium, startCoturn } from '@floe/testbed';
// the type of inject('testbed')
import type {} from '@floe/testbed/vitest-setup';
import { mintTurnCredentials } from '@floe/turn';
import { buildWeb } from '@floe/web/build';
import { pino } from 'pino';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type ProbeProcess, startProbeProcess } from '../probe/probe-process.ts';
import { loadStreamerConfig } from '../src/config.ts';
import type { Desktop } from '../src/desktop.ts';
import { type Streamer, startStreamer } from '../src/streamer.ts';
import { type DisplayServer, startDisplayServer } from '../src/x11/display-server.ts';
import { openX11Desktop } from '../src/x11-desktop.ts';
import { Cleanup } from './e2e-harness.ts';

const OPENS = 30;
/** Any open slower than this to its first frame fails the test. */
const FIRST_FRAME_LIMIT_MS = 2_000;
/** How long one open may take before the test stops waiting for it (a stall was 10 s). */
const OPEN_TIMEOUT_MS = 15_000;

const testbed = inject('testbed');
const cleanup = new Cleanup();

/** The streamer's log lines, parsed, with their time: the server side of each open. */
interface LogEvent {
  time: number;
  msg: string;
  state?: string;
}
const events: LogEvent[] = [];
const log = pino(
  { level: 'info' },
  {
    write(line: string) {
      events.push(JSON.parse(line) as LogEvent);
    },
  },
);

/**
 * Runs in the page before its own script: notes when the page opens its signalling socket
 * and when the first video frame is presented, both on the page's own clock.
 */
const OPEN_TIMING_SCRIPT = `(() => {
  const open = { socketAt: null, firstFrameAt: null };
  window.__open = open;
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      if (open.socketAt === null) open.socketAt = performance.now();
    }
  };
  document.addEventListener('DOMContentLoaded', () => {
    document.getElementById('video').requestVideoFrameCallback(() => {
      open.firstFrameAt = performance.now();
    });
  });
})();`;

type OpenWindow = Window & { __open: { socketAt: number | null; firstFrameAt: number | null } };

let work: string;
let server: DisplayServer;
let probe: ProbeProcess;
let desktop: Desktop;
let streamer: Streamer;
let browser: Browser;

beforeAll(async () => {
  try {
    work = await mkdtemp(join(testbed.tempRoot, 'open-time-'));
    cleanup.add('work folder', () => rmSync(work, { recursive: true, force: true }));
    const { dir: webDir } = await buildWeb({ outDir: join(work, 'web') });
    server = await startDisplayServer({ width: 800, height: 600, workDir: work });
    cleanup.add('X server', () => server.stop());
    probe = await startProbeProcess({ display: server.display, fps: 30 });
    cleanup.add('probe app', () => probe.stop());
    desktop = await openX11Desktop(server.display, log, { resizable: false });
    cleanup.add('desktop', () => desktop.close());
    // A coturn of its own: each open holds about four relay ports (the browser's and the
    // streamer's allocations) until they expire, more than the testbed's shared one has.
    const turn = await startCoturn({ relayPorts: 256 });
    cleanup.add('coturn', () => turn.stop());
    // What the local cluster's driver gives a session: the TURN URLs and a credential minted
    // for it, never the fleet's secret (control/src/drivers/local.ts).
    const credential = mintTurnCredentials({
      secret: turn.secret,
      sessionId: 'open-time',
      ttlSeconds: 3600,
    });
    const config = loadStreamerConfig({
      DISPLAY: server.display,
      FLOE_STREAMER_PORT: '0',
      FLOE_STREAMER_FPS: '30',
      FLOE_STREAMER_WEB_DIR: webDir,
      FLOE_SESSION_ID: 'open-time',
      FLOE_TURN_URLS: turn.url,
      FLOE_TURN_USERNAME: credential.username,
      FLOE_TURN_CREDENTIAL: credential.credential,
    });
    streamer = await startStreamer(config, desktop, log);
    cleanup.add('streamer', () => streamer.close());
    browser = await launchChromium();
    cleanup.add('Chromium', () => browser.close());
  } catch (err) {
    await cleanup.run();
    throw err;
  }
}, 120_000);

afterAll(async () => {
  const failures = await cleanup.run();
  expect(failures).toEqual([]);
}, 60_000);

interface OpenTiming {
  /** Page's signalling socket made → first video frame presented; Infinity for none. */
  firstFrameMs: number;
  /** Streamer side: 'viewer connected' → 'peer connection connecting' (the answer made). */
  connectingMs: number | null;
}

const count = (msg: string) => events.filter((e) => e.msg === msg).length;

/** One open in a fresh browser context (a new tab of a new user), closed before the next. */
async function openOnce(): Promise<OpenTiming> {
  const from = events.length;
  const gone = count('viewer gone');
  const context = await browser.newContext({ viewport: { width: 800, height: 680 } });
  try {
    await context.addInitScript(OPEN_TIMING_SCRIPT);
    const page = await context.newPage();
    await page.goto(streamer.url);
    // an open with no frame at all is recorded too (as Infinity), not thrown: it is a result
    await page
      .waitForFunction(() => (window as unknown as OpenWindow).__open.firstFrameAt, null, {
        timeout: OPEN_TIMEOUT_MS,
      })
      .catch(() => {});
    const { socketAt, firstFrameAt } = await page.evaluate(
      () => (window as unknown as OpenWindow).__open,
    );
    const since = events.slice(from);
    const connected = since.find((e) => e.msg === 'viewer connected');
    const connecting = since.find((e) => e.msg === 'peer connection' && e.state === 'connecting');
    return {
      firstFrameMs:
        firstFrameAt !== null && socketAt !== null
          ? Math.round(firstFrameAt - socketAt)
          : Number.POSITIVE_INFINITY,
      connectingMs: connected && connecting ? connecting.time - connected.time : null,
    };
  } finally {
    await context.close();
    // the next open starts once the streamer has let this viewer go
    await expect.poll(() => count('viewer gone'), { timeout: 10_000 }).toBeGreaterThan(gone);
  }
}

const ms = (n: number) =>
  Number.isFinite(n) ? `${Math.round(n)} ms` : `none within ${OPEN_TIMEOUT_MS / 1000} s`;

describe('opening a stream', () => {
  it(
    `reaches the first frame within ${FIRST_FRAME_LIMIT_MS / 1000} s on each of ${OPENS} opens in a row`,
    async () => {
      const timings: OpenTiming[] = [];
      for (let i = 0; i < OPENS; i++) {
        const timing = await openOnce();
        timings.push(timing);
        process.stdout.write(
          `open ${i + 1}: first frame ${ms(timing.firstFrameMs)} (streamer: viewer connected → connecting ${timing.connectingMs === null ? '?' : ms(timing.connectingMs)})\n`,
        );
      }
      const sorted = timings.map((t) => t.firstFrameMs).sort((a, b) => a - b);
      const median = (sorted[(OPENS - 1) >> 1]! + sorted[OPENS >> 1]!) / 2;
      process.stdout.write(
        `${OPENS} opens, socket → first frame: min ${ms(sorted[0]!)}, median ${ms(median)}, max ${ms(sorted.at(-1)!)}\n`,
      );
      const slow = timings
        .map((t, i) => ({ open: i + 1, ...t }))
        .filter((t) => t.firstFrameMs > FIRST_FRAME_LIMIT_MS);
      expect(slow).toEqual([]);
    },
    OPENS * (OPEN_TIMEOUT_MS + 2_000),
  );
});
