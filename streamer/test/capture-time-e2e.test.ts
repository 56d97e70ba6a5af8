/**
 * Glass-to-glass from capture times, end to end (issue 18): the streamer stamps each frame's
 * RTP packets with abs-capture-time, and the stream page in real Chromium measures each shown
 * frame from it. The probe app's barcode is the reference: it is painted with the time of the
 * app's paint, so for the same frame (paired by RTP timestamp) the barcode's figure is the
 * capture-time figure plus the wait from the paint to the capture of that paint, which lies
 * within one capture interval. Then a plain X app (xterm, no barcode) streams on the same
 * display and the overlay still shows a measured figure.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { launchChromium } from '@floe/testbed';
import type {} from '@floe/testbed/vitest-setup';
import { buildWeb } from '@floe/web/build';
import { pino } from 'pino';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type ProbeProcess, startProbeProcess } from '../probe/probe-process.ts';
import { loadStreamerConfig } from '../src/config.ts';
import type { Desktop } from '../src/desktop.ts';
import { type Streamer, startStreamer } from '../src/streamer.ts';
import { type DisplayServer, startDisplayServer } from '../src/x11/display-server.ts';
import { openX11Desktop } from '../src/x11-desktop.ts';
import { Cleanup } from './e2e-harness.ts';

/**
 * The capture's rate, and the app paints twice as often: each capture then holds a paint at
 * most half a capture interval old (plus the machine's jitter), well inside the bound below
 * whatever the phase between the app's timer and the capture's (one app paint per capture
 * put the typical gap anywhere in [0, 33] ms from run to run, at the bound's edge).
 */
const FPS = 30;
const PROBE_FPS = 60;
const FRAME_MS = 1000 / FPS;
/**
 * How far the barcode's figure may stray outside [capture figure, capture figure + one
 * frame interval] for a frame: the barcode holds whole ms (up to 1 ms lost) and the page's
 * timestamps are 0.1 ms coarse.
 */
const TOLERANCE_MS = 3;
/**
 * The share of frames that must fall within that. Measured on this 2-core machine at load
 * averages of 14-17 (other sessions' tests running), 120 frames a run: 100, 99, 97, 94 and
 * 84 %. Outside it: the app or X stalled between reading the clock and the capture's read
 * (the gap grows), and, after a stall, the barcode probe reading a later frame than its
 * callback's, already in the <video> (the gap shrinks by frame intervals).
 */
const WITHIN_SHARE = 0.75;
/**
 * At most this share of frames may look captured before their paint (below −TOLERANCE_MS):
 * the stamp is taken after the screen read, so only the probe's misread above makes one.
 */
const BEFORE_PAINT_SHARE = 0.05;

interface PageFrames {
  probeFrames: { rtpTimestamp: number; ms: number }[];
  frames: { rtpTimestamp: number; totalMs: number; exact: boolean; toReceiveMs: number | null }[];
  collectLatency: boolean;
  stats(): { latency: { measured: unknown; fromCapture: { p50: number } | null } } | null;
}
/** The page's window; functions run in the page cannot call helpers of this file. */
type FloeWindow = { __floe: PageFrames };

const cleanup = new Cleanup();
const log = pino({ level: 'warn' });
let server: DisplayServer;
let probe: ProbeProcess;
let desktop: Desktop;
let streamer: Streamer;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  try {
    const work = await mkdtemp(join(inject('testbed').tempRoot, 'capture-time-'));
    cleanup.add('work folder', () => rmSync(work, { recursive: true, force: true }));
    const { dir: webDir } = await buildWeb({ outDir: join(work, 'web') });
    // wide enough for the whole barcode (46 cells of 20 px)
    server = await startDisplayServer({ width: 1280, height: 720, workDir: work });
    cleanup.add('X server', () => server.stop());
    probe = await startProbeProcess({ display: server.display, fps: PROBE_FPS });
    cleanup.add('probe app', () => probe.stop());
    desktop = await openX11Desktop(server.display, log, { resizable: false });
    cleanup.add('desktop', () => desktop.close());
    streamer = await startStreamer(
      loadStreamerConfig({
        DISPLAY: server.display,
        FLOE_STREAMER_PORT: '0',
        FLOE_STREAMER_FPS: String(FPS),
        FLOE_STREAMER_CODECS: 'H264',
        FLOE_STREAMER_WEB_DIR: webDir,
        FLOE_STREAMER_AUDIO: 'off',
      }),
      desktop,
      log,
    );
    cleanup.add('streamer', () => streamer.close());
    browser = await launchChromium();
    cleanup.add('Chromium', () => browser.close());
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${streamer.url}?stats=1`);
    await page.waitForFunction(() => document.body.dataset.state === 'streaming', null, {
      timeout: 60_000,
    });
  } catch (err) {
    await cleanup.run();
    throw err;
  }
}, 120_000);

afterAll(async () => {
  expect(await cleanup.run()).toEqual([]);
}, 60_000);

describe('glass-to-glass from capture times', () => {
  it('agrees frame by frame with the probe barcode, which measures from the paint', async () => {
    await page.waitForFunction(
      (n) => {
        const f = (window as unknown as FloeWindow).__floe;
        const shown = new Set(f.frames.map((x) => x.rtpTimestamp));
        return f.probeFrames.filter((p) => shown.has(p.rtpTimestamp)).length >= n;
      },
      270,
      { timeout: 60_000 },
    );
    const { probeFrames, frames } = await page.evaluate(() => {
      const f = (window as unknown as FloeWindow).__floe;
      return { probeFrames: f.probeFrames, frames: f.frames };
    });
    const byTimestamp = new Map(frames.map((f) => [f.rtpTimestamp, f]));
    // the first frames are the start-up's (a keyframe, Chrome's first decode): skipped
    const pairs = probeFrames.slice(30).flatMap((p) => {
      const f = byTimestamp.get(p.rtpTimestamp);
      return f ? [{ barcode: p.ms, capture: f.totalMs, exact: f.exact }] : [];
    });
    expect(pairs.length).toBeGreaterThanOrEqual(200);
    if (process.env.DEBUG_GAPS)
      console.log(
        pairs
          .map((p) => `${p.barcode.toFixed(1)}/${p.capture.toFixed(1)}${p.exact ? '' : '~'}`)
          .join(' '),
      );
    const gaps = pairs.map((p) => p.barcode - p.capture).sort((a, b) => a - b);
    const outside = gaps.filter((g) => g < -TOLERANCE_MS || g > FRAME_MS + TOLERANCE_MS);
    console.log(
      `barcode − capture figure over ${gaps.length} frames: min ${gaps[0]!.toFixed(1)}, ` +
        `p50 ${gaps[gaps.length >> 1]!.toFixed(1)}, max ${gaps.at(-1)!.toFixed(1)} ms; ` +
        `${outside.length} outside [-${TOLERANCE_MS}, ${(FRAME_MS + TOLERANCE_MS).toFixed(1)}]`,
    );
    expect(outside.length).toBeLessThanOrEqual(Math.floor(gaps.length * (1 - WITHIN_SHARE)));
    // the typical frame: captured after its paint, within one capture interval of it
    const median = gaps[gaps.length >> 1]!;
    expect(median).toBeGreaterThanOrEqual(0);
    expect(median).toBeLessThanOrEqual(FRAME_MS + TOLERANCE_MS);
    const beforePaint = gaps.filter((g) => g < -TOLERANCE_MS);
    expect(beforePaint.length).toBeLessThanOrEqual(Math.floor(gaps.length * BEFORE_PAINT_SHARE));
    // A frame is received after its capture; said of frames with their own stamp (one placed
    // from a neighbour's may come out a little late, see captureTimeIn), to within the page's
    // 0.1 ms timestamps and its wall clock's drift from performance.now().
    for (const f of frames.filter((f) => f.exact))
      expect(f.toReceiveMs ?? 0).toBeGreaterThanOrEqual(-1);

    // The streamer's own share, from its metrics: capture → the frame's last packet handed to
    // the connection. Counted for every frame sent, in seconds, and no more than capture →
    // received (their means; 5 ms for the frames sent that the page did not show).
    const metrics = await (await fetch(new URL('metrics', streamer.url))).text();
    const value = (name: string) =>
      Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1] ?? Number.NaN);
    const count = value('floe_streamer_frame_delay_seconds_count');
    const meanMs = (value('floe_streamer_frame_delay_seconds_sum') / count) * 1000;
    const received = frames.flatMap((f) =>
      f.exact && f.toReceiveMs !== null ? [f.toReceiveMs] : [],
    );
    const receivedMeanMs = received.reduce((a, b) => a + b, 0) / received.length;
    console.log(
      `streamer frame delay: ${count} frames, mean ${meanMs.toFixed(1)} ms; capture → received mean ${receivedMeanMs.toFixed(1)} ms`,
    );
    expect(count).toBeGreaterThanOrEqual(frames.length);
    expect(meanMs).toBeGreaterThan(0);
    expect(meanMs).toBeLessThan(receivedMeanMs + 5);
  }, 90_000);

  it('measures a plain X app too: xterm, no barcode', async () => {
    await probe.stop();
    // spawns: xterm
    const xterm: ChildProcess = spawn('xterm', ['-geometry', '80x24+0+0'], {
      env: { ...process.env, DISPLAY: server.display },
      stdio: 'ignore',
    });
    cleanup.add('xterm', async () => {
      if (xterm.exitCode === null && xterm.signalCode === null) {
        xterm.kill('SIGKILL');
        await new Promise((r) => xterm.once('exit', r));
      }
    });
    const since = await page.evaluate(() => (window as unknown as FloeWindow).__floe.frames.length);
    // the barcode figure goes stale (no barcode), the capture-time one keeps coming
    await page.waitForFunction(
      (n) => (window as unknown as FloeWindow).__floe.frames.length >= n,
      since + 60,
      {
        timeout: 30_000,
      },
    );
    await page.waitForFunction(
      () => {
        const s = (window as unknown as FloeWindow).__floe.stats();
        return s !== null && s.latency.measured === null && s.latency.fromCapture !== null;
      },
      null,
      { timeout: 20_000 },
    );
    const text = await page.locator('#stats-list').textContent();
    expect(text).toContain('glass-to-glass (measured)');
    expect(text).toContain('capture → received');
    expect(text).not.toContain('estimated');
    expect(text).not.toContain('probe barcode');
    const p50 =
      (await page.evaluate(
        () => (window as unknown as FloeWindow).__floe.stats()!.latency.fromCapture!.p50,
      )) ?? 0;
    expect(p50).toBeGreaterThan(0);
    expect(p50).toBeLessThan(1000);
  }, 60_000);
});
