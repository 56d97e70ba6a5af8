/**
 * The idle warning end to end, with a short timeout: the probe app on a real X server, the
 * streamer with an 8 s idle timeout and a 6 s lead, the built stream page in Chromium. The
 * warning shows its countdown once nobody has done anything for 2 s; "I'm still here" ends it
 * and moves the streamer's last input (what the operator's probe and the local runner read
 * from /healthz to decide an idle stop), and the warning comes back after another quiet spell.
 * With FLOE_WEB_SCREENSHOTS=<dir> it saves stream-idle-warning.png there.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { join, resolve } from 'node:path';
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

const cleanup = new Cleanup();
const log = pino({ level: 'warn' });
const screenshots = process.env.FLOE_WEB_SCREENSHOTS
  ? resolve(process.env.FLOE_WEB_SCREENSHOTS)
  : null;
let server: DisplayServer;
let probe: ProbeProcess;
let desktop: Desktop;
let streamer: Streamer;
let browser: Browser;
let page: Page;

const lastInputAt = async () =>
  ((await (await fetch(new URL('healthz', streamer.url))).json()) as { lastInputAt: string | null })
    .lastInputAt;

beforeAll(async () => {
  try {
    const work = await mkdtemp(join(inject('testbed').tempRoot, 'idle-warning-'));
    cleanup.add('work folder', () => rmSync(work, { recursive: true, force: true }));
    const { dir: webDir } = await buildWeb({ outDir: join(work, 'web') });
    server = await startDisplayServer({ width: 800, height: 600, workDir: work });
    cleanup.add('X server', () => server.stop());
    probe = await startProbeProcess({ display: server.display, fps: 10 });
    cleanup.add('probe app', () => probe.stop());
    desktop = await openX11Desktop(server.display, log, { resizable: server.resizable });
    cleanup.add('desktop', () => desktop.close());
    streamer = await startStreamer(
      loadStreamerConfig({
        DISPLAY: server.display,
        FLOE_STREAMER_PORT: '0',
        FLOE_STREAMER_FPS: '10',
        FLOE_STREAMER_WEB_DIR: webDir,
        FLOE_STREAMER_AUDIO: 'off',
        FLOE_IDLE_TIMEOUT_SECONDS: '8',
        FLOE_SHUTDOWN_WARNING_SECONDS: '6',
      }),
      desktop,
      log,
    );
    cleanup.add('streamer', () => streamer.close());
    browser = await launchChromium();
    cleanup.add('Chromium', () => browser.close());
    page = await browser.newPage({ viewport: { width: 900, height: 620 } });
  } catch (err) {
    await cleanup.run();
    throw err;
  }
}, 120_000);

afterAll(async () => {
  expect(await cleanup.run()).toEqual([]);
}, 60_000);

describe('the idle warning in the stream page', () => {
  it('counts down before the idle stop; “I’m still here” ends it and resets the streamer’s idle clock', async () => {
    await page.goto(streamer.url);
    await page.waitForFunction(() => document.body.dataset.state === 'streaming', null, {
      timeout: 30_000,
    });
    const warning = page.getByRole('alertdialog', { name: 'Are you still there?' });
    await warning.waitFor({ timeout: 15_000 });
    const text = async () => (await warning.locator('p').textContent()) ?? '';
    expect(await text()).toMatch(
      /^Nobody has used this session for a while: it shuts down in 0:0\d\.$/,
    );
    // it counts down
    const first = await text();
    await expect.poll(text, { timeout: 5_000 }).not.toBe(first);
    if (screenshots) {
      mkdirSync(screenshots, { recursive: true });
      await page.screenshot({ path: join(screenshots, 'stream-idle-warning.png') });
    }
    // nobody gave input: the streamer says so to whoever decides idle stops
    expect(await lastInputAt()).toBeNull();

    const before = Date.now();
    await warning.getByRole('button', { name: 'I’m still here' }).click();
    await warning.waitFor({ state: 'hidden' });
    await expect.poll(lastInputAt).not.toBeNull();
    expect(Date.parse((await lastInputAt())!)).toBeGreaterThanOrEqual(before - 1000);
    // the app got nothing from it: it is no input to the app
    expect(probe.events.filter((e) => e.type === 'key' || e.type === 'button')).toEqual([]);

    // quiet again for the rest of the timeout less the lead: the warning is back
    await warning.waitFor({ timeout: 10_000 });
    expect(await page.evaluate(() => document.body.dataset.warning)).toBe('idle');
  }, 90_000);
});
