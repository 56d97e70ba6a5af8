// The product flow a person goes through, in real Chromium against the real stack: the
// development identity provider, the control plane on the testbed's PostgreSQL, coturn, the
// gateway, the local session runner. Sign in, launch, watch the stream play, type into the
// app, go back, shut down; the session is gone and its usage is recorded. Screenshots go to
// .floe/artifacts/flow/ (kept as CI artifacts of the run).
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, launchChromium } from '@floe/testbed';
import { pino } from 'pino';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freshDatabase } from '../../control/test/harness.ts';
import { type Platform, startPlatform } from '../src/platform.ts';
import { framesDecoded, videoCodec } from './stream-page.ts';

const ARTIFACTS = fileURLToPath(new URL('../../.floe/artifacts/flow/', import.meta.url));
const PROBE_APP = fileURLToPath(import.meta.resolve('@floe/streamer/probe-app'));

describe('the product flow', () => {
  let platform: Platform;
  let browser: Browser;
  let page: Page;
  let dataDir: string;
  let sessionId: string;

  const admin = async (path: string) => {
    const res = await fetch(platform.controlUrl + path, {
      headers: { authorization: `Bearer ${platform.adminToken}` },
    });
    // biome-ignore lint/suspicious/noExplicitAny: the test reads whatever JSON came back
    return (await res.json()) as any;
  };
  const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    dataDir = mkdtempSync(join(inject('testbed').tempRoot, 'platform-'));
    const { DATABASE_URL } = await freshDatabase('postgres');
    platform = await startPlatform({
      dataDir,
      databaseUrl: DATABASE_URL,
      port: await freePort(),
      metricsPort: await freePort(),
      controlPort: await freePort(),
      idpPort: await freePort(),
      // the probe app prints the X input it receives, which the test reads in the session log
      apps: [
        {
          slug: 'probe',
          name: 'Probe',
          description: 'paints frames and reports input',
          command: [process.execPath, PROBE_APP, '--fps=30'],
          // the app's codec preference reaches its streamer: VP9 before the default H.264
          videoCodecs: ['VP9', 'H264'],
        },
      ],
      log: pino({ level: 'warn' }),
    });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1100, height: 720 } });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await platform?.close();
  });

  it('signs in at the tenant’s identity provider and lands on the launcher', async () => {
    await page.goto(platform.url);
    expect(new URL(page.url()).origin).not.toBe(platform.gatewayUrl); // at the IdP
    await page.getByLabel('Email').fill('bob@acme.test');
    await page.getByLabel('Password').fill('bob-pw');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${platform.gatewayUrl}/`);
    await page.getByText('bob@acme.test').waitFor();
    await page.getByRole('button', { name: 'Launch Probe' }).waitFor();
  }, 60_000);

  it('launches the app and opens its stream', async () => {
    await page.getByRole('button', { name: 'Launch Probe' }).click();
    const open = page.getByRole('link', { name: 'Open Probe' });
    await open.waitFor({ timeout: 30_000 });
    await shot('launcher');
    const sessions = await admin('/v1/tenants/acme/sessions');
    const mine = sessions.items.find((s: { state: string }) => s.state === 'running');
    expect(mine).toBeTruthy();
    sessionId = mine.id;

    await open.click();
    await page.waitForURL(`**/sessions/${sessionId}/**`);
    await page.waitForFunction(() => document.body.dataset.state === 'streaming', null, {
      timeout: 30_000,
    });
    await expect
      .poll(() => page.evaluate(() => (document.querySelector('video')?.videoWidth ?? 0) > 0), {
        timeout: 10_000, // the first keyframe on a busy machine (1 s, the default, missed it)
      })
      .toBe(true);
    await expect.poll(() => framesDecoded(page), { timeout: 15_000 }).toBeGreaterThan(30);
    expect(await videoCodec(page)).toBe('video/VP9');
    await shot('stream');
  }, 90_000);

  it('types into the app (seen on the X side)', async () => {
    const log = join(dataDir, 'sessions', `${sessionId}.log`);
    const keysyms = () =>
      readFileSync(log, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('{"type":"key"') && l.includes('"down":true'))
        .map((l) => JSON.parse(l).keysym as number);
    // the display follows the window first; type once it has settled
    await expect
      .poll(() => page.evaluate(() => document.querySelector('video')?.videoWidth), {
        timeout: 10_000,
      })
      .toBe(1100);
    await page.locator('video').click();
    await page.keyboard.type('floe');
    await expect
      .poll(keysyms, { timeout: 10_000 })
      .toEqual(expect.arrayContaining([0x66, 0x6c, 0x6f, 0x65]));
  }, 60_000);

  it('shuts the session down from the launcher; the session is gone and its usage recorded', async () => {
    await page.getByRole('link', { name: /launcher/i }).click();
    await page.waitForURL(`${platform.gatewayUrl}/`);
    await page.getByRole('button', { name: 'Shut down Probe' }).click();
    await expect
      .poll(async () => (await admin(`/v1/tenants/acme/sessions/${sessionId}`)).state, {
        timeout: 20_000,
      })
      .toBe('stopped');
    await expect.poll(() => page.getByRole('link', { name: 'Open Probe' }).count()).toBe(0);
    await shot('after-shutdown');
    const usage = await admin('/v1/tenants/acme/usage');
    const row = usage.items.find(
      (r: { email: string; app: string }) => r.email === 'bob@acme.test',
    );
    expect(row).toMatchObject({ app: 'probe', sessions: 1 });
    expect(row.sessionSeconds).toBeGreaterThan(0);
  }, 60_000);
});
