/**
 * End to end for phones, tablets and HiDPI screens: the probe app on a real Xorg, the streamer,
 * and the built stream page in headless Chromium with touch emulation. Touches go in through
 * CDP's Input.dispatchTouchEvent (what Playwright's touchscreen uses), text through
 * Input.insertText and Input.imeSetComposition (what an on-screen keyboard and an input method
 * do); what the app receives is read from its own JSON lines, the display's DPI with xrdb and
 * xdpyinfo as any X client would.
 */

import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { launchChromium } from '@floe/testbed';
// the type of inject('testbed')
import type {} from '@floe/testbed/vitest-setup';
import { buildWeb } from '@floe/web/build';
import { pino } from 'pino';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ProbeEvent } from '../probe/probe-app.ts';
import { type ProbeProcess, startProbeProcess } from '../probe/probe-process.ts';
import { loadStreamerConfig } from '../src/config.ts';
import { type Streamer, startStreamer } from '../src/streamer.ts';
import { type DisplayServer, startDisplayServer } from '../src/x11/display-server.ts';
import { openX11Desktop } from '../src/x11-desktop.ts';
import { Cleanup, run, videoStats, xScreenSize } from './e2e-harness.ts';

type ButtonEvent = Extract<ProbeEvent, { type: 'button' }>;
type KeyEvent = Extract<ProbeEvent, { type: 'key' }>;
const isButton = (e: ProbeEvent): e is ButtonEvent => e.type === 'button';
const isKey = (e: ProbeEvent): e is KeyEvent => e.type === 'key';

const TEST_TIMEOUT = 60_000;
const UNICODE = 0x100_0000;

const testbed = inject('testbed');
const cleanup = new Cleanup();
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

let server: DisplayServer;
let probe: ProbeProcess;
let streamer: Streamer;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let cdp: CDPSession;

beforeAll(async () => {
  try {
    const work = await mkdtemp(join(testbed.tempRoot, 'e2e-touch-'));
    cleanup.add('work folder', () => rmSync(work, { recursive: true, force: true }));
    const { dir: webDir } = await buildWeb({ outDir: join(work, 'web') });
    server = await startDisplayServer({ width: 1024, height: 768, workDir: work });
    cleanup.add('X server', () => server.stop());
    probe = await startProbeProcess({ display: server.display, fps: 30 });
    cleanup.add('probe app', () => probe.stop());
    const desktop = await openX11Desktop(server.display, log, { resizable: server.resizable });
    cleanup.add('desktop', () => desktop.close());
    const config = loadStreamerConfig({
      DISPLAY: server.display,
      FLOE_STREAMER_PORT: '0',
      FLOE_STREAMER_FPS: '30',
      FLOE_SESSION_ID: 'e2e-touch',
      FLOE_STREAMER_WEB_DIR: webDir,
    });
    streamer = await startStreamer(config, desktop, log);
    cleanup.add('streamer', () => streamer.close());
    browser = await launchChromium();
    cleanup.add('Chromium', () => browser.close());
    // a tablet: touch only, a 1:1 screen so positions are easy to check
    context = await browser.newContext({ viewport: { width: 900, height: 640 }, hasTouch: true });
    page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(streamer.url);
    cdp = await context.newCDPSession(page);
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
    `--- streamer log ---\n${logLines.join('\n')}\n--- probe stderr ---\n${probe?.stderr()}\n` +
      `--- page errors ---\n${pageErrors.join('\n')}\n`,
  );
});

type Point = { x: number; y: number };

/** One touch event of any number of fingers (ids by position in the list). */
function touch(type: 'touchStart' | 'touchMove' | 'touchEnd', points: Point[]) {
  return cdp.send('Input.dispatchTouchEvent', {
    type,
    touchPoints: points.map((p, id) => ({ x: p.x, y: p.y, id })),
  });
}

/** Fingers moving from `from` to `to` in `steps` touchmoves. */
async function slide(from: Point[], to: Point[], steps = 6) {
  for (let i = 1; i <= steps; i++) {
    const at = from.map((p, f) => ({
      x: p.x + ((to[f]!.x - p.x) * i) / steps,
      y: p.y + ((to[f]!.y - p.y) * i) / steps,
    }));
    await touch('touchMove', at);
  }
}

/** The picture's box on the page; the display is laid out 1:1 in it (dpr 1, fit window). */
async function videoBox() {
  const box = await page.locator('#video').boundingBox();
  if (!box) throw new Error('no video box');
  return box;
}

/** The next press and release of `button` the app sees from index `from` on. */
async function clickSeen(button: number, from: number) {
  const pressed = await probe.waitFor(
    (e): e is ButtonEvent => isButton(e) && e.down && e.button === button,
    {
      from,
      timeoutMs: 15_000,
    },
  );
  await probe.waitFor((e) => isButton(e) && !e.down && e.button === button, {
    from,
    timeoutMs: 15_000,
  });
  return pressed;
}

describe('touch on a tablet', () => {
  it(
    'streams at the size of the page, with the touch controls shown',
    async () => {
      await page.waitForFunction(() => document.body.dataset.state === 'streaming', null, {
        timeout: 30_000,
      });
      const box = await videoBox();
      const even = (n: number) => 2 * Math.floor(Math.round(n) / 2);
      const wanted = { width: even(box.width), height: even(box.height) };
      await expect.poll(() => xScreenSize(server.display), { timeout: 20_000 }).toEqual(wanted);
      await expect
        .poll(async () => (await videoStats(page)).videoWidth, { timeout: 20_000 })
        .toBe(wanted.width);
      // a touch device: the trackpad toggle is shown (the keyboard button always is)
      expect(await page.isVisible('#trackpad')).toBe(true);
      expect(await page.isVisible('#keyboard')).toBe(true);
    },
    TEST_TIMEOUT,
  );

  it(
    'a tap clicks where the finger is',
    async () => {
      const box = await videoBox();
      const from = probe.events.length;
      await page.touchscreen.tap(box.x + 200, box.y + 150);
      const click = await clickSeen(1, from);
      expect(Math.abs(click.x - 200)).toBeLessThanOrEqual(2);
      expect(Math.abs(click.y - 150)).toBeLessThanOrEqual(2);
      // only the left button: the browser's emulated mouse events were cancelled
      expect(
        probe.events
          .slice(from)
          .filter(isButton)
          .map((e) => e.button),
      ).toEqual([1, 1]);
    },
    TEST_TIMEOUT,
  );

  it(
    'a long press right-clicks where the finger is',
    async () => {
      const box = await videoBox();
      const from = probe.events.length;
      const at = { x: box.x + 300, y: box.y + 100 };
      await touch('touchStart', [at]);
      const click = await clickSeen(3, from);
      await touch('touchEnd', []);
      expect(Math.abs(click.x - 300)).toBeLessThanOrEqual(2);
      expect(Math.abs(click.y - 100)).toBeLessThanOrEqual(2);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(probe.events.slice(from).filter((e) => isButton(e) && e.button === 1)).toEqual([]);
    },
    TEST_TIMEOUT,
  );

  it(
    'two fingers moving up scroll down, moving down scroll up',
    async () => {
      const box = await videoBox();
      const a = { x: box.x + 300, y: box.y + 400 };
      const b = { x: box.x + 400, y: box.y + 400 };
      const up = (p: Point) => ({ x: p.x, y: p.y - 160 });
      let from = probe.events.length;
      await touch('touchStart', [a, b]);
      await slide([a, b], [up(a), up(b)]);
      await touch('touchEnd', []);
      // 160 px at 40 px a notch: four notches down (button 5), nothing else
      await expect
        .poll(() => probe.events.slice(from).filter((e) => isButton(e) && !e.down).length, {
          timeout: 15_000,
        })
        .toBe(4);
      expect(
        new Set(
          probe.events
            .slice(from)
            .filter(isButton)
            .map((e) => e.button),
        ),
      ).toEqual(new Set([5]));

      from = probe.events.length;
      await touch('touchStart', [up(a), up(b)]);
      await slide([up(a), up(b)], [a, b]);
      await touch('touchEnd', []);
      await expect
        .poll(() => probe.events.slice(from).filter((e) => isButton(e) && !e.down).length, {
          timeout: 15_000,
        })
        .toBe(4);
      expect(
        new Set(
          probe.events
            .slice(from)
            .filter(isButton)
            .map((e) => e.button),
        ),
      ).toEqual(new Set([4]));
    },
    TEST_TIMEOUT,
  );

  it(
    'a pinch zooms the page view, and taps in the zoomed view still land where they point',
    async () => {
      const box = await videoBox();
      const centre = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
      const from = probe.events.length;
      const near = [
        { x: centre.x - 50, y: centre.y },
        { x: centre.x + 50, y: centre.y },
      ];
      const far = [
        { x: centre.x - 100, y: centre.y },
        { x: centre.x + 100, y: centre.y },
      ];
      await touch('touchStart', near);
      await slide(near, far);
      await touch('touchEnd', []);
      expect(await zoom()).toBeCloseTo(2, 5);
      // the remote was not touched by the pinch
      expect(probe.events.slice(from).filter(isButton)).toEqual([]);

      // zoomed ×2 around the centre: a tap 100 px right of it is 50 display px right of it
      const tapFrom = probe.events.length;
      await page.touchscreen.tap(centre.x + 100, centre.y + 60);
      const click = await clickSeen(1, tapFrom);
      const size = await xScreenSize(server.display);
      expect(Math.abs(click.x - (size.width / 2 + 50))).toBeLessThanOrEqual(2);
      expect(Math.abs(click.y - (size.height / 2 + 30))).toBeLessThanOrEqual(2);

      // pinching in again comes back to the whole picture
      await touch('touchStart', far);
      await slide(far, near);
      await touch('touchEnd', []);
      expect(await zoom()).toBeCloseTo(1, 5);
    },
    TEST_TIMEOUT,
  );

  it(
    'in trackpad mode a finger moves the pointer by its travel, and a tap clicks where it is',
    async () => {
      await page.touchscreen.tap(...(await centreOf('#trackpad')));
      expect(await page.getAttribute('#trackpad', 'aria-pressed')).toBe('true');
      const box = await videoBox();
      // put the pointer somewhere known: a tap in direct mode is gone, so read where it is
      const start = await pointer();
      const finger = { x: box.x + 600, y: box.y + 500 }; // far from the pointer: relative
      const from = probe.events.length;
      await touch('touchStart', [finger]);
      await slide([finger], [{ x: finger.x - 80, y: finger.y - 40 }], 8);
      await touch('touchEnd', []);
      // 1.5 display px per CSS px of travel at this 1:1 scale
      await expect
        .poll(pointer, { timeout: 10_000 })
        .toEqual({ x: start.x - 120, y: start.y - 60 });
      await page.touchscreen.tap(finger.x, finger.y);
      const click = await clickSeen(1, from);
      expect({ x: click.x, y: click.y }).toEqual({ x: start.x - 120, y: start.y - 60 });

      // tap, then at once a finger that moves: a drag, the left button held while it moves
      const dragFrom = probe.events.length;
      await page.touchscreen.tap(finger.x, finger.y);
      await touch('touchStart', [finger]);
      await slide([finger], [{ x: finger.x + 40, y: finger.y }], 4);
      await touch('touchEnd', []);
      await probe.waitFor((e) => isButton(e) && !e.down && e.button === 1 && e.x > click.x, {
        from: dragFrom,
        timeoutMs: 15_000,
      });
      const presses = probe.events
        .slice(dragFrom)
        .filter(isButton)
        .map((e) => `${e.button}${e.down ? '↓' : '↑'}@${e.x}`);
      // the tap's click where the pointer was, then the press there and the release 60 px on
      expect(presses).toEqual([
        `1↓@${click.x}`,
        `1↑@${click.x}`,
        `1↓@${click.x}`,
        `1↑@${click.x + 60}`,
      ]);

      await page.touchscreen.tap(...(await centreOf('#trackpad')));
      expect(await page.getAttribute('#trackpad', 'aria-pressed')).toBe('false');
    },
    TEST_TIMEOUT,
  );

  it(
    'the keyboard button opens a text input whose typing and IME text reach the app',
    async () => {
      const focused = () => page.evaluate(() => document.activeElement?.id);
      await page.touchscreen.tap(...(await centreOf('#keyboard')));
      expect(await page.getAttribute('#keyboard', 'aria-pressed')).toBe('true');
      expect(await focused()).toBe('text-input');
      // a tap on the picture clicks there and leaves the keyboard up
      const box = await videoBox();
      const tapFrom = probe.events.length;
      await page.touchscreen.tap(box.x + 100, box.y + 100);
      await clickSeen(1, tapFrom);
      expect(await focused()).toBe('text-input');

      // an on-screen keyboard: text with no key events
      let from = probe.events.length;
      await cdp.send('Input.insertText', { text: 'hé日' });
      expect(await keysTyped(from, UNICODE + 0x65e5)).toEqual([0x68, 0xe9, UNICODE + 0x65e5]);

      // an input method: the composition stays in the browser, the committed text is typed
      from = probe.events.length;
      await cdp.send('Input.imeSetComposition', {
        text: 'にほん',
        selectionStart: 3,
        selectionEnd: 3,
      });
      await cdp.send('Input.imeSetComposition', {
        text: '日本',
        selectionStart: 2,
        selectionEnd: 2,
      });
      await cdp.send('Input.insertText', { text: '日本' });
      expect(await keysTyped(from, UNICODE + 0x672c)).toEqual([UNICODE + 0x65e5, UNICODE + 0x672c]);
      expect(await page.inputValue('#text-input')).toBe('');

      // a hardware key while the text input has the focus goes as the key it is
      from = probe.events.length;
      await page.keyboard.press('Backspace');
      expect(await keysTyped(from, 0xff08)).toEqual([0xff08]);

      // a click on the picture with a mouse keeps the focus in the text input too
      await page.mouse.click(box.x + 120, box.y + 100);
      expect(await focused()).toBe('text-input');
      await page.touchscreen.tap(...(await centreOf('#keyboard')));
      expect(await page.getAttribute('#keyboard', 'aria-pressed')).toBe('false');
      expect(await focused()).toBe('stage');
      expect(pageErrors).toEqual([]);
    },
    TEST_TIMEOUT,
  );
});

describe('a HiDPI screen', () => {
  it(
    'at devicePixelRatio 2 the display has the physical pixels and 192 dpi',
    async () => {
      const hidpi = await browser.newContext({
        viewport: { width: 640, height: 420 },
        deviceScaleFactor: 2,
      });
      try {
        // a second viewer takes over from the first (the default policy)
        const p = await hidpi.newPage();
        await p.goto(streamer.url);
        await p.waitForFunction(() => document.body.dataset.state === 'streaming', null, {
          timeout: 30_000,
        });
        const box = await p.locator('#stage').boundingBox();
        if (!box) throw new Error('no stage box');
        const even = (n: number) => 2 * Math.floor(Math.round(n) / 2);
        const physical = { width: even(box.width * 2), height: even(box.height * 2) };
        await expect.poll(() => xScreenSize(server.display), { timeout: 20_000 }).toEqual(physical);
        await expect
          .poll(
            async () => {
              const v = await videoStats(p);
              return { width: v.videoWidth, height: v.videoHeight };
            },
            { timeout: 20_000 },
          )
          .toEqual(physical);
        await expect
          .poll(() => run('xrdb', ['-query'], server.display), { timeout: 10_000 })
          .toMatch(/^Xft\.dpi:\s+192$/m);
        const xdpyinfo = await run('xdpyinfo', ['-display', server.display], server.display);
        const [, h, v] = /resolution:\s+(\d+)x(\d+) dots per inch/.exec(xdpyinfo) ?? [];
        // whole millimetres: within a dot of 192
        expect(Math.abs(Number(h) - 192)).toBeLessThanOrEqual(1);
        expect(Math.abs(Number(v) - 192)).toBeLessThanOrEqual(1);
      } finally {
        await hidpi.close();
      }
    },
    TEST_TIMEOUT,
  );
});

/** The page's own zoom of the picture (`window.__floe.zoom`). */
function zoom(): Promise<number> {
  return page.evaluate(() => (window as unknown as { __floe: { zoom: number } }).__floe.zoom);
}

/** The centre of an element, for a tap. */
async function centreOf(selector: string): Promise<[number, number]> {
  const box = await page.locator(selector).boundingBox();
  if (!box) throw new Error(`${selector} is not laid out`);
  return [box.x + box.width / 2, box.y + box.height / 2];
}

/** Where the X pointer is, as xdotool reads it. */
async function pointer(): Promise<Point> {
  const out = await run('xdotool', ['getmouselocation', '--shell'], server.display);
  const value = (name: string) => Number(new RegExp(`^${name}=(\\d+)`, 'm').exec(out)?.[1]);
  return { x: value('X'), y: value('Y') };
}

/** The keysyms pressed from index `from` on, once `last` was released. */
async function keysTyped(from: number, last: number) {
  await probe.waitFor((e) => isKey(e) && !e.down && e.keysym === last, {
    from,
    timeoutMs: 15_000,
  });
  return probe.events
    .slice(from)
    .filter((e): e is KeyEvent => isKey(e) && e.down)
    .map((e) => e.keysym);
}
