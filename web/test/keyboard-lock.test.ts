/**
 * Keys the browser would keep for itself (Escape, Alt+Tab, Ctrl+W…) reach the remote only in
 * fullscreen, through the Keyboard Lock API: the built page in real Chromium locks the
 * keyboard when it enters fullscreen and unlocks it when it leaves. Chromium's lock itself is
 * the browser's business; what the page must do is ask for it at the right moments, which an
 * init script records.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildWeb } from '../build.ts';
import { launchChromium, type StreamServer, serveStream } from './harness.ts';

let outDir: string;
let browser: Browser;
let server: StreamServer;

beforeAll(async () => {
  outDir = mkdtempSync(join(tmpdir(), 'floe-web-lock-'));
  const { dir } = await buildWeb({ outDir });
  server = await serveStream(dir);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  rmSync(outDir, { recursive: true, force: true });
});

/** Wraps navigator.keyboard's lock and unlock so the test sees each call, then calls through. */
const RECORD_LOCKS = `(() => {
  window.__locks = [];
  const keyboard = navigator.keyboard;
  const lock = keyboard.lock.bind(keyboard);
  const unlock = keyboard.unlock.bind(keyboard);
  keyboard.lock = (keys) => { window.__locks.push('lock'); return lock(keys); };
  keyboard.unlock = () => { window.__locks.push('unlock'); return unlock(); };
})();`;

it('locks the keyboard in fullscreen and unlocks it on leaving', async () => {
  const page = await browser.newPage();
  await page.addInitScript(RECORD_LOCKS);
  await page.goto(server.url);
  const locks = () => page.evaluate(() => (window as unknown as { __locks: string[] }).__locks);
  const fullscreen = () => page.evaluate(() => document.fullscreenElement !== null);

  await page.click('#fullscreen');
  await expect.poll(fullscreen).toBe(true);
  await expect.poll(locks).toEqual(['lock']);
  expect(await page.getAttribute('#fullscreen', 'aria-pressed')).toBe('true');

  await page.click('#fullscreen');
  await expect.poll(fullscreen).toBe(false);
  await expect.poll(locks).toEqual(['lock', 'unlock']);
  await page.close();
});
