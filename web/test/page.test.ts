/**
 * The built stream page in real Chromium: its states without a streamer, its signalling, and
 * a full stream from a stand-in streamer (see fake-streamer.ts) with input, resize and the
 * measured glass-to-glass latency.
 */
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// the type of inject('testbed')
import type {} from '@floe/testbed/vitest-setup';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildWeb } from '../build.ts';
import { answerWithFakeStreamer } from './fake-streamer.ts';
import { launchChromium, type StreamServer, serveStream } from './harness.ts';

let outDir: string;
let dir: string;
let browser: Browser;

beforeAll(async () => {
  outDir = mkdtempSync(join(tmpdir(), 'floe-web-page-'));
  ({ dir } = await buildWeb({ outDir }));
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  rmSync(outDir, { recursive: true, force: true });
});

/** A page that fails the test on any script error or unexpected console error. */
async function openPage(url: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 754 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    // The browser itself logs each refused WebSocket: expected while no streamer listens.
    if (m.type() === 'error' && !/WebSocket connection to .* failed/.test(m.text())) {
      errors.push(`console: ${m.text()}`);
    }
  });
  await page.goto(url);
  return { page, errors };
}

const state = (page: Page) => page.evaluate(() => document.body.dataset.state);

describe('without a streamer', () => {
  let server: StreamServer;
  beforeAll(async () => {
    server = await serveStream(dir);
  });
  afterAll(() => server.close());

  it('shows that it is reconnecting, without errors', async () => {
    const { page, errors } = await openPage(server.url);
    await page.waitForSelector('body[data-state="reconnecting"]');
    expect(await page.textContent('#screen-message')).toMatch(
      /Connection lost — reconnecting in \d+ s… \(attempt \d+\)/,
    );
    expect(await page.evaluate(() => window.__floe.state)).toBe('reconnecting');
    expect(await page.evaluate(() => window.__floe.stats())).toBeNull();
    // Every request is relative: the files and the socket stay under the page's folder.
    expect(await page.getAttribute('link[rel=stylesheet]', 'href')).toBe('stream.css');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('shows a back link only for a same-origin path', async () => {
    const ok = await openPage(`${server.url}?back=%2Flauncher%3Ftab%3Dapps`);
    expect(await ok.page.getAttribute('#back', 'href')).toBe('/launcher?tab=apps');
    expect(await ok.page.isVisible('#back')).toBe(true);
    await ok.page.close();
    const evil = await openPage(`${server.url}?back=%2F%2Fevil.example`);
    expect(await evil.page.isVisible('#back')).toBe(false);
    await evil.page.close();
  });
});

describe('signalling', () => {
  let server: StreamServer;
  beforeAll(async () => {
    server = await serveStream(dir, true);
  });
  afterAll(() => server.close());

  it('offers receive-only video and audio and the input channel, one codec when asked', async () => {
    const { page, errors } = await openPage(`${server.url}?codec=VP8`);
    const socket = await server.connection();
    socket.send({
      type: 'welcome',
      protocolVersion: 1,
      iceServers: [],
      codecs: ['H264', 'VP8'],
      display: { width: 1280, height: 720 },
      resizable: true,
    });
    const offer = await socket.next();
    expect(offer.type).toBe('offer');
    const sdp = String(offer.sdp);
    const sections = sdp.split(/\r\n(?=m=)/).slice(1);
    const video = sections.find((s) => s.startsWith('m=video'))!;
    const audio = sections.find((s) => s.startsWith('m=audio'))!;
    expect(video).toContain('a=recvonly');
    expect(audio).toContain('a=recvonly');
    // the microphone: a second audio section, sending only (silent until turned on)
    const microphone = sections.filter((s) => s.startsWith('m=audio'))[1];
    expect(microphone).toContain('a=sendonly');
    expect(sections.some((s) => s.startsWith('m=application') && /webrtc-datachannel/.test(s)));
    expect(video).toMatch(/a=rtpmap:\d+ VP8\/90000/);
    expect(video).not.toMatch(/a=rtpmap:\d+ (H264|VP9|AV1)\//);
    // the frames' capture times, which Chromium offers only when asked (latency for any app)
    expect(video).toContain('http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time');

    // The streamer refuses to share: the page says so and waits for the user.
    socket.send({ type: 'error', code: 'busy', message: 'Another viewer is connected' });
    socket.close(4409, 'busy');
    await page.waitForSelector('body[data-state="ended"]');
    expect(await page.textContent('#screen-message')).toBe('Another viewer is in control');
    await page.waitForTimeout(1500);
    expect(server.connections).toBe(1);

    await page.click('#screen-action');
    const again = await server.connection();
    expect(await state(page)).toBe('connecting');
    again.close(4410, 'taken over');
    await page.waitForSelector('body[data-state="ended"]');
    expect(await page.textContent('#screen-message')).toBe('You were taken over by another viewer');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('reconnects when the streamer goes away', async () => {
    const { page, errors } = await openPage(server.url);
    const socket = await server.connection();
    socket.close(1001, 'restarting');
    await page.waitForSelector('body[data-state="reconnecting"]');
    const next = await server.connection(); // after the first back-off, about 0.5 s
    expect(next).toBeDefined();
    expect(errors).toEqual([]);
    await page.close();
  });
});

describe('streaming from a stand-in streamer', () => {
  let server: StreamServer;
  beforeAll(async () => {
    server = await serveStream(dir, true);
  });
  afterAll(() => server.close());

  it('plays, forwards input, asks for the window size and measures latency', async () => {
    const { page, errors } = await openPage(server.url);
    const streamer = await browser.newPage();
    // The streamer's clock is off by a minute; ping/pong must correct the probe's time.
    await answerWithFakeStreamer(streamer, await server.connection(), { clockSkewMs: 60_000 });
    await page.waitForSelector('body[data-state="streaming"]', { timeout: 15_000 });
    // WebRTC starts small and scales up as the bandwidth estimate grows.
    await page.waitForFunction(() => document.querySelector('video')?.videoWidth === 1280);
    const inputs = () => streamer.evaluate(() => window.fake.inputs);

    // The display follows the video area: 1280×720 CSS px below the 34 px toolbar, at the
    // browser's devicePixelRatio (the session's DPI follows it).
    await expect.poll(inputs).toContainEqual({ t: 'resize', width: 1280, height: 720, scale: 1 });

    // Mouse: the picture fills the area, so its centre is the display's centre.
    await page.mouse.click(640, 34 + 360);
    await expect.poll(inputs).toEqual(
      expect.arrayContaining([
        { t: 'move', x: 0.5, y: 0.5 },
        { t: 'button', button: 1, down: true },
        { t: 'button', button: 1, down: false },
      ]),
    );

    // Keys by keysym, released with the keysym they were pressed with.
    await page.keyboard.press('a');
    await page.keyboard.down('Shift');
    await page.keyboard.press('ArrowLeft');
    await page.keyboard.up('Shift');
    await expect
      .poll(async () => (await inputs()).filter((m) => m.t === 'key'))
      .toEqual([
        { t: 'key', keysym: 0x61, down: true },
        { t: 'key', keysym: 0x61, down: false },
        { t: 'key', keysym: 0xffe1, down: true },
        { t: 'key', keysym: 0xff51, down: true },
        { t: 'key', keysym: 0xff51, down: false },
        { t: 'key', keysym: 0xffe1, down: false },
      ]);

    await page.mouse.wheel(0, 200);
    await expect.poll(inputs).toContainEqual({ t: 'wheel', dx: 0, dy: 2 });

    // The remote clipboard lands in the fallback panel.
    await streamer.evaluate(() =>
      window.fake.channel!.send(JSON.stringify({ t: 'clipboard', text: 'from remote' })),
    );
    await expect.poll(() => page.inputValue('#clipboard-text')).toBe('from remote');

    // Measured glass-to-glass latency from the probe barcode.
    await page.evaluate(() => {
      window.__floe.collectLatency = true;
    });
    await page.waitForFunction(() => window.__floe.latencies.length >= 20, undefined, {
      timeout: 15_000,
    });
    const latencies = await page.evaluate(() => window.__floe.latencies);
    const median = [...latencies].sort((a, b) => a - b)[Math.floor(latencies.length / 2)]!;
    expect(median).toBeGreaterThan(0);
    expect(median).toBeLessThan(1000);
    await page.waitForFunction(() => window.__floe.stats()?.latency.clockOffsetMs != null);
    const offset = await page.evaluate(() => window.__floe.stats()?.latency.clockOffsetMs);
    expect(offset).toBeGreaterThan(59_900);
    expect(offset).toBeLessThan(60_100);

    await page.waitForFunction(() => window.__floe.stats()?.latency.measured != null);
    const stats = await page.evaluate(() => window.__floe.stats());
    expect(stats?.browser).toMatchObject({ width: 1280, height: 720, codec: 'VP8' });
    expect(stats?.browser.fps).toBeGreaterThan(0);

    // The overlay opens with its shortcut and shows the measured figure.
    await page.keyboard.press('Control+Alt+Shift+S');
    await expect.poll(() => page.isVisible('#stats')).toBe(true);
    await expect.poll(() => page.textContent('#stats')).toContain('glass-to-glass (measured)');

    // The panel docks beside the picture, never over the app (whose menus sit top-left), and
    // the remote display follows the stage to the 1280 - 240 px left beside it.
    const box = (selector: string) =>
      page.evaluate((s) => document.querySelector(s)!.getBoundingClientRect().toJSON(), selector);
    const [video, panel] = [await box('video'), await box('#stats')];
    expect(panel.width).toBe(240);
    expect(video.right).toBeLessThanOrEqual(panel.left);
    expect(await page.evaluate(() => document.elementFromPoint(20, 34 + 20)?.id)).not.toBe('stats');
    await expect.poll(inputs).toContainEqual({ t: 'resize', width: 1040, height: 720, scale: 1 });

    expect(errors).toEqual([]);
    await streamer.close();
    await page.close();
  });

  it('goes through the TURN relay with relay=1', async () => {
    const turn = inject('testbed').turn;
    const username = `${Math.floor(Date.now() / 1000) + 600}:web-test`;
    const credential = createHmac('sha1', turn.secret).update(username).digest('base64');
    const iceServers = [{ urls: [turn.url], username, credential }];

    const { page, errors } = await openPage(`${server.url}?relay=1`);
    const streamer = await browser.newPage();
    await answerWithFakeStreamer(streamer, await server.connection(), { iceServers });
    await page.waitForSelector('body[data-state="streaming"]', { timeout: 15_000 });
    await page.waitForFunction(() => window.__floe.stats()?.browser.candidateType != null);
    expect(await page.evaluate(() => window.__floe.stats()?.browser.candidateType)).toBe('relay');
    expect(errors).toEqual([]);
    await streamer.close();
    await page.close();
  });
});
