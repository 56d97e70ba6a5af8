/**
 * End to end: an X app (the probe) on a real Xorg, the streamer capturing it, the built stream
 * page in headless Chromium, and every byte of media through the testbed's coturn (the page
 * runs with relay=1, so ICE may use relay candidates only). What the app receives is read from
 * its own JSON lines; the X side is checked with xclip and xdpyinfo, as any other X client
 * would see it.
 */

import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { launchChromium } from '@floe/testbed';
// the type of inject('testbed')
import type {} from '@floe/testbed/vitest-setup';
import { mintTurnCredentials, probeTurnServer } from '@floe/turn';
import { buildWeb } from '@floe/web/build';
import { pino } from 'pino';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ProbeEvent } from '../probe/probe-app.ts';
import { type ProbeProcess, startProbeProcess } from '../probe/probe-process.ts';
import { loadStreamerConfig } from '../src/config.ts';
import { bareDesktop, type Desktop } from '../src/desktop.ts';
import { rtpCodec } from '../src/protocol.ts';
import { type Streamer, startStreamer } from '../src/streamer.ts';
import { type DisplayServer, startDisplayServer } from '../src/x11/display-server.ts';
import { openX11Desktop } from '../src/x11-desktop.ts';
import {
  Cleanup,
  type FloeWindow,
  ICE_ERRORS_SCRIPT,
  pathStats,
  readPicture,
  videoStats,
  xclipCopy,
  xclipPaste,
  xScreenSize,
} from './e2e-harness.ts';

type KeyEvent = Extract<ProbeEvent, { type: 'key' }>;
type ButtonEvent = Extract<ProbeEvent, { type: 'button' }>;
const isKey = (e: ProbeEvent): e is KeyEvent => e.type === 'key';
const isButton = (e: ProbeEvent): e is ButtonEvent => e.type === 'button';

const TEST_TIMEOUT = 60_000;
const SHIFT_L = 0xffe1;
const RETURN = 0xff0d;
/** The probe app's background, 0x203040 (probe-app.ts). */
const BACKGROUND = [0x20, 0x30, 0x40];

const testbed = inject('testbed');
const cleanup = new Cleanup();

// The streamer's log, kept in memory and printed when a test fails.
const logLines: string[] = [];
const log = pino(
  { level: 'info' },
  {
    write(line: string) {
      logLines.push(line.trim());
      if (logLines.length > 300) logLines.shift();
    },
  },
);
const pageErrors: string[] = [];

let work: string;
let webDir: string;
let server: DisplayServer;
let probe: ProbeProcess;
let desktop: Desktop;
let streamer: Streamer;
let browser: Browser;
let context: BrowserContext;
let page: Page;

function config(port: number, env: Record<string, string> = {}) {
  return loadStreamerConfig({
    DISPLAY: server.display,
    FLOE_STREAMER_PORT: String(port),
    FLOE_STREAMER_FPS: '30',
    FLOE_STREAMER_CODECS: 'H264,VP8,VP9,AV1,H264-444,VP9-444',
    FLOE_TURN_URLS: testbed.turn.url,
    FLOE_TURN_SECRET: testbed.turn.secret,
    FLOE_SESSION_ID: 'e2e',
    FLOE_STREAMER_WEB_DIR: webDir,
    ...env,
  });
}

async function openPage(url: string): Promise<Page> {
  const p = await context.newPage();
  p.on('pageerror', (e) => pageErrors.push(`${p.url()}: ${e.message}`));
  await p.goto(url);
  return p;
}

const state = (p: Page) => p.evaluate(() => document.body.dataset.state);

function waitForState(p: Page, wanted: string, timeout = 30_000) {
  return p.waitForFunction((s) => document.body.dataset.state === s, wanted, { timeout });
}

/** Waits until the page has decoded `more` frames beyond what it had decoded on the call. */
async function framesGrow(p: Page, more = 20) {
  const before = (await videoStats(p)).framesDecoded;
  await expect
    .poll(async () => (await videoStats(p)).framesDecoded, { timeout: 20_000 })
    .toBeGreaterThanOrEqual(before + more);
}

/**
 * The display size the page asks for: its video area in device pixels (dpr 1 here), rounded
 * down to even numbers.
 */
async function stageSize(p: Page) {
  const rect = await p.locator('#stage').boundingBox();
  if (!rect) throw new Error('the video area is not laid out');
  const even = (n: number) => 2 * Math.floor(Math.round(n) / 2);
  return { width: even(rect.width), height: even(rect.height) };
}

/** The X screen and the decoded video both come to the size of the page's video area. */
async function expectDisplayFollowsPage(p: Page) {
  const wanted = await stageSize(p);
  await expect.poll(() => xScreenSize(server.display), { timeout: 20_000 }).toEqual(wanted);
  await expect
    .poll(
      async () => {
        const { videoWidth, videoHeight } = await videoStats(p);
        return { width: videoWidth, height: videoHeight };
      },
      { timeout: 20_000 },
    )
    .toEqual(wanted);
  return wanted;
}

/** Clicks the middle of the video: focuses the video area (and clicks the app there). */
async function clickVideoMiddle(p: Page) {
  const box = await p.locator('#video').boundingBox();
  if (!box) throw new Error('no video element box');
  await p.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
}

/** The key events the app saw from index `from` on, as [down, keysym], once `last` was released. */
async function keysSeen(from: number, last: number) {
  await probe.waitFor((e) => isKey(e) && !e.down && e.keysym === last, {
    from,
    timeoutMs: 15_000,
  });
  return probe.events
    .slice(from)
    .filter(isKey)
    .map((e) => [e.down, e.keysym]);
}

beforeAll(async () => {
  try {
    work = await mkdtemp(join(testbed.tempRoot, 'e2e-'));
    cleanup.add('work folder', () => rmSync(work, { recursive: true, force: true }));
    ({ dir: webDir } = await buildWeb({ outDir: join(work, 'web') }));
    server = await startDisplayServer({ width: 1024, height: 768, workDir: work });
    cleanup.add('X server', () => server.stop());
    probe = await startProbeProcess({ display: server.display, fps: 30 });
    cleanup.add('probe app', () => probe.stop());
    desktop = await openX11Desktop(server.display, log, { resizable: server.resizable });
    cleanup.add('desktop', () => desktop.close());
    streamer = await startStreamer(config(0), desktop, log);
    // the streamer of the moment: the reconnect test replaces it
    cleanup.add('streamer', () => streamer.close());
    browser = await launchChromium();
    cleanup.add('Chromium', () => browser.close());
    context = await browser.newContext({
      viewport: { width: 960, height: 640 },
      permissions: ['clipboard-read', 'clipboard-write'],
    });
    await context.addInitScript(ICE_ERRORS_SCRIPT);
    page = await openPage(`${streamer.url}?relay=1`);
  } catch (err) {
    await cleanup.run();
    throw err;
  }
}, 120_000);

afterAll(async () => {
  const failures = await cleanup.run();
  expect(failures).toEqual([]);
}, 60_000);

afterEach((ctx) => {
  if (ctx.task.result?.state !== 'fail') return;
  process.stderr.write(
    `--- streamer log (last ${logLines.length} lines) ---\n${logLines.join('\n')}\n` +
      `--- probe stderr ---\n${probe?.stderr()}\n--- page errors ---\n${pageErrors.join('\n')}\n`,
  );
});

describe('streaming an X app to Chromium through TURN only', () => {
  it(
    'streams the app over a relayed path, and the picture follows what the app draws',
    async () => {
      await waitForState(page, 'streaming');
      // relay=1: the browser may only use its TURN relay candidates
      await expect
        .poll(async () => (await pathStats(page)).local, { timeout: 10_000 })
        .toBe('relay');
      const path = await pathStats(page);
      expect(path.connectionState).toBe('connected');
      expect(path.localTypes.length).toBeGreaterThan(0);
      expect(new Set(path.localTypes)).toEqual(new Set(['relay']));

      // On connecting, the page asked for the display to match its video area.
      await expectDisplayFollowsPage(page);
      await framesGrow(page);
      expect((await videoStats(page)).codec).toBe('video/H264');

      // The picture is the app's: its background colour, and its block moving frame to frame.
      const first = await readPicture(page, 'first');
      first.background.forEach((c, i) => {
        expect(Math.abs(c - BACKGROUND[i]!)).toBeLessThanOrEqual(16);
      });
      expect(first.blockX).toBeGreaterThanOrEqual(0);
      // 4:2:0: each pair of the red and blue pixel columns shares one colour, both purple
      expect(first.chromaContrast).toBeLessThan(60);
      await framesGrow(page, 10);
      await expect
        .poll(() => readPicture(page, 'later', 'first'), { timeout: 10_000 })
        .toSatisfy((p) => (p.changed ?? 0) > 100 && p.blockX >= 0 && p.blockX !== first.blockX);

      // The app's time barcode decodes from the frames as they arrive.
      await page.evaluate(() => {
        (window as unknown as FloeWindow).__floe.collectLatency = true;
      });
      await page.waitForFunction(
        () => (window as unknown as FloeWindow).__floe.latencies.length >= 10,
        null,
        { timeout: 20_000 },
      );
      await page.evaluate(() => {
        (window as unknown as FloeWindow).__floe.collectLatency = false;
      });
    },
    TEST_TIMEOUT,
  );

  it(
    'clicks in the middle of the video land in the middle of the display; the wheel turns',
    async () => {
      const size = await xScreenSize(server.display);
      const from = probe.events.length;
      await clickVideoMiddle(page);
      const down = await probe.waitFor(
        (e): e is ButtonEvent => isButton(e) && e.down && e.button === 1,
        { from, timeoutMs: 15_000 },
      );
      await probe.waitFor((e) => isButton(e) && !e.down && e.button === 1, { from });
      expect(Math.abs(down.x - size.width / 2)).toBeLessThanOrEqual(2);
      expect(Math.abs(down.y - size.height / 2)).toBeLessThanOrEqual(2);

      const wheelFrom = probe.events.length;
      await page.mouse.wheel(0, 100); // one notch down
      await probe.waitFor((e) => isButton(e) && !e.down && e.button === 5, {
        from: wheelFrom,
        timeoutMs: 15_000,
      });
      await page.mouse.wheel(0, -100); // one notch up
      await probe.waitFor((e) => isButton(e) && !e.down && e.button === 4, {
        from: wheelFrom,
        timeoutMs: 15_000,
      });
      const buttons = probe.events.slice(wheelFrom).filter(isButton);
      expect(buttons.map((e) => `${e.button}${e.down ? '↓' : '↑'}`)).toEqual([
        '5↓',
        '5↑',
        '4↓',
        '4↑',
      ]);
    },
    TEST_TIMEOUT,
  );

  it(
    'keys typed in the page reach the app as keysyms, a non-US character included',
    async () => {
      await clickVideoMiddle(page);
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('stage');
      const from = probe.events.length;
      await page.keyboard.press('a');
      await page.keyboard.press('Shift+B');
      await page.keyboard.press('Enter');
      // 'é' as a French (AZERTY) keyboard reports it: key é on the physical key Digit2.
      // Playwright's keyboard knows only the US layout, so the event goes in through CDP.
      const cdp = await context.newCDPSession(page);
      try {
        const key = { key: 'é', code: 'Digit2', windowsVirtualKeyCode: 50 };
        await cdp.send('Input.dispatchKeyEvent', { type: 'keyDown', ...key, text: 'é' });
        await cdp.send('Input.dispatchKeyEvent', { type: 'keyUp', ...key });
      } finally {
        await cdp.detach();
      }
      expect(await keysSeen(from, 0xe9)).toEqual([
        [true, 0x61],
        [false, 0x61],
        [true, SHIFT_L],
        [true, 0x42],
        [false, 0x42],
        [false, SHIFT_L],
        [true, RETURN],
        [false, RETURN],
        [true, 0xe9],
        [false, 0xe9],
      ]);
    },
    TEST_TIMEOUT,
  );

  it(
    'shares the clipboard both ways',
    async () => {
      // X → browser: another X app copies; the page gets it on the browser's clipboard.
      const fromX = `copied in X ✓ ${Date.now()}`;
      const stopCopy = xclipCopy(server.display, fromX);
      cleanup.add('xclip', stopCopy);
      await expect.poll(() => page.inputValue('#clipboard-text'), { timeout: 15_000 }).toBe(fromX);
      await expect
        .poll(() => page.evaluate(() => navigator.clipboard.readText()), { timeout: 10_000 })
        .toBe(fromX);

      // browser → X: text on the browser's clipboard goes over when the user pastes.
      const fromBrowser = `copied in the browser é ${Date.now()}`;
      await page.evaluate((text) => navigator.clipboard.writeText(text), fromBrowser);
      await clickVideoMiddle(page);
      await page.keyboard.press('Control+V');
      await expect.poll(() => xclipPaste(server.display), { timeout: 15_000 }).toBe(fromBrowser);
      await stopCopy();

      // ...and when the user comes back to the page (the window's focus event; headless
      // Chromium has no window focus to lose, so the test fires the event the browser would).
      const onFocus = `copied elsewhere, then back to the page ${Date.now()}`;
      await page.evaluate((text) => navigator.clipboard.writeText(text), onFocus);
      await page.evaluate(() => window.dispatchEvent(new FocusEvent('focus')));
      await expect.poll(() => xclipPaste(server.display), { timeout: 15_000 }).toBe(onFocus);
    },
    TEST_TIMEOUT,
  );

  it(
    'resizes the X display to the page',
    async () => {
      expect(server.resizable).toBe(true);
      const before = await xScreenSize(server.display);
      const from = probe.events.length;
      await page.setViewportSize({ width: 800, height: 520 });
      const size = await expectDisplayFollowsPage(page);
      expect(size).not.toEqual(before);
      // the app itself was told, as any X client is
      await probe.waitFor((e) => e.type === 'resize' && e.width === size.width, {
        from,
        timeoutMs: 15_000,
      });
      await framesGrow(page);
    },
    TEST_TIMEOUT,
  );

  it(
    'shows that it is reconnecting when the streamer stops, and comes back by itself',
    async () => {
      const { port } = streamer;
      const pcBefore = await page.evaluateHandle(() => (window as unknown as FloeWindow).__floe.pc);
      await Promise.all([streamer.close(), waitForState(page, 'reconnecting', 15_000)]);
      expect(await page.textContent('#screen-message')).toMatch(/reconnecting/i);

      streamer = await startStreamer(config(port), desktop, log);
      expect(streamer.port).toBe(port);
      await waitForState(page, 'streaming', 45_000);
      // a new peer connection, relayed again, with frames flowing
      expect(
        await page.evaluate((old) => (window as unknown as FloeWindow).__floe.pc !== old, pcBefore),
      ).toBe(true);
      await pcBefore.dispose();
      await expect
        .poll(async () => (await pathStats(page)).local, { timeout: 10_000 })
        .toBe('relay');
      await framesGrow(page);
      // and input reaches the app again
      await clickVideoMiddle(page);
      const from = probe.events.length;
      await page.keyboard.press('z');
      expect(await keysSeen(from, 0x7a)).toEqual([
        [true, 0x7a],
        [false, 0x7a],
      ]);
    },
    TEST_TIMEOUT,
  );

  it(
    'streams VP8 when the page asks for it',
    async () => {
      // A second viewer takes over from the first (the default policy).
      const vp8 = await openPage(`${streamer.url}?relay=1&codec=VP8`);
      try {
        await waitForState(vp8, 'streaming');
        await waitForState(page, 'ended', 15_000);
        await expect
          .poll(async () => (await pathStats(vp8)).local, { timeout: 10_000 })
          .toBe('relay');
        await framesGrow(vp8);
        expect((await videoStats(vp8)).codec).toBe('video/VP8');
      } finally {
        await vp8.close();
      }
      expect(pageErrors).toEqual([]);
    },
    TEST_TIMEOUT,
  );

  // VP9 from vp9enc, AV1 from av1enc packetized by werift (no rtpav1pay in Debian 12): the
  // picture is the app's and its time barcode decodes, so the frames are whole and in order.
  // The full-colour codecs (4:4:4: H.264 High 4:4:4 Predictive, VP9 profile 1) negotiate that
  // profile and keep the red and blue pixel columns apart, which 4:2:0 turns purple.
  it.each([
    ['VP9', 'profile-id=0'],
    ['AV1', 'profile=0'],
    ['H264-444', 'profile-level-id=f4'],
    ['VP9-444', 'profile-id=1'],
  ] as const)(
    'streams %s when the page asks for it, the picture intact',
    async (codec, profile) => {
      const p = await openPage(`${streamer.url}?relay=1&codec=${codec}`);
      try {
        await waitForState(p, 'streaming');
        await framesGrow(p);
        const stats = await videoStats(p);
        expect(stats.codec).toBe(`video/${rtpCodec(codec)}`);
        expect(stats.fmtp).toContain(profile);
        const picture = await readPicture(p, 'first');
        picture.background.forEach((c, i) => {
          expect(Math.abs(c - BACKGROUND[i]!)).toBeLessThanOrEqual(16);
        });
        expect(picture.blockX).toBeGreaterThanOrEqual(0);
        if (codec.endsWith('-444')) expect(picture.chromaContrast).toBeGreaterThan(150);
        else expect(picture.chromaContrast).toBeLessThan(60);
        await p.evaluate(() => {
          (window as unknown as FloeWindow).__floe.collectLatency = true;
        });
        await p.waitForFunction(
          () => (window as unknown as FloeWindow).__floe.latencies.length >= 10,
          null,
          { timeout: 20_000 },
        );
        const latencies = await p.evaluate(
          () => (window as unknown as FloeWindow).__floe.latencies,
        );
        expect(latencies.every((ms) => ms >= 0 && ms < 5000)).toBe(true);
      } finally {
        await p.close();
      }
      expect(pageErrors).toEqual([]);
    },
    TEST_TIMEOUT,
  );
});

describe('TURN refuses credentials it did not issue or that expired', () => {
  it(
    'a streamer handing out forged credentials gets the relay-only page nowhere',
    async () => {
      // Same server and page, but the streamer signs credentials with the wrong secret.
      const forged = await startStreamer(
        config(0, {
          FLOE_TURN_SECRET: 'not-the-fleet-secret',
          // offered anyway: the point is that coturn refuses what the browser presents
          FLOE_TURN_HEALTH_INTERVAL_MS: '0',
          FLOE_STREAMER_FPS: '10',
        }),
        bareDesktop(320, 240),
        log,
      );
      const p = await openPage(`${forged.url}?relay=1`).catch(async (err) => {
        await forged.close();
        throw err;
      });
      try {
        // Gathering ends without a single candidate: the TURN server refused to allocate.
        await p.waitForFunction(
          () => (window as unknown as FloeWindow).__floe.pc?.iceGatheringState === 'complete',
          null,
          { timeout: 20_000 },
        );
        const path = await pathStats(p);
        expect(path.localTypes).toEqual([]);
        expect(path.local).toBeNull();
        expect(path.connectionState).not.toBe('connected');
        const errors = await p.evaluate(() => (window as unknown as FloeWindow).__iceErrors);
        expect(errors).toContainEqual(expect.objectContaining({ errorCode: 401 }));
        expect(await state(p)).not.toBe('streaming');
      } finally {
        await p.close();
        await forged.close();
      }
    },
    TEST_TIMEOUT,
  );

  it('refuses an expired and a forged credential with 401, and allocates with a valid one', async () => {
    const { url, secret } = testbed.turn;
    const valid = mintTurnCredentials({ secret, sessionId: 'e2e-probe', ttlSeconds: 600 });
    expect(await probeTurnServer({ url, ...valid, timeoutMs: 5_000 })).toEqual({
      ok: true,
      rttMs: expect.any(Number),
    });

    const expired = mintTurnCredentials({
      secret,
      sessionId: 'e2e-probe',
      ttlSeconds: 600,
      now: new Date(Date.now() - 3_600_000),
    });
    expect(expired.expiresAt.getTime()).toBeLessThan(Date.now());
    const forged = mintTurnCredentials({ secret: 'not-the-fleet-secret', sessionId: 'e2e-probe' });
    for (const credentials of [expired, forged]) {
      expect(await probeTurnServer({ url, ...credentials, timeoutMs: 5_000 })).toEqual({
        ok: false,
        error: expect.stringMatching(/Allocate refused .*401/),
      });
    }
  });
});
