// The warning before a shutdown, end to end on the local runner, in real Chromium: the whole
// product (identity provider, control plane, gateway, local runner with its streamers) with
// two apps at the schema's shortest limits, a 60 s idle timeout and a 60 s maximum lifetime,
// warned 50 s ahead (FLOE_SHUTDOWN_WARNING_SECONDS) and checked each second
// (FLOE_LOCAL_IDLE_CHECK_MS). "I'm still here" during the idle countdown puts the stop off by a
// whole timeout; the lifetime's countdown has no such button and the stop comes on time; the
// stream pages and the launcher then say why each ended. Screenshots go to
// .floe/artifacts/shutdown-warning/.
import { mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, launchChromium } from '@floe/testbed';
import { pino } from 'pino';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Platform, startPlatform } from '../src/platform.ts';

const ARTIFACTS = fileURLToPath(
  new URL('../../.floe/artifacts/shutdown-warning/', import.meta.url),
);
const PROBE_APP = fileURLToPath(import.meta.resolve('@floe/streamer/probe-app'));
const probe = [process.execPath, PROBE_APP, '--fps=5'];

describe('the warning before an idle or lifetime shutdown', () => {
  let platform: Platform;
  let browser: Browser;
  let context: BrowserContext;
  let launcher: Page;

  const admin = async (path: string) => {
    const res = await fetch(platform.controlUrl + path, {
      headers: { authorization: `Bearer ${platform.adminToken}` },
    });
    // biome-ignore lint/suspicious/noExplicitAny: the test reads whatever JSON came back
    return (await res.json()) as any;
  };
  const streaming = (page: Page) =>
    page.waitForFunction(() => document.body.dataset.state === 'streaming', null, {
      timeout: 30_000,
    });

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    platform = await startPlatform({
      dataDir: mkdtempSync(join(inject('testbed').tempRoot, 'platform-warning-')),
      port: await freePort(),
      metricsPort: await freePort(),
      controlPort: await freePort(),
      idpPort: await freePort(),
      apps: [
        {
          slug: 'idler',
          name: 'Idler',
          description: 'idle timeout',
          command: probe,
          idleTimeoutSeconds: 60,
        },
        {
          slug: 'brief',
          name: 'Brief',
          description: 'lifetime',
          command: probe,
          maxLifetimeSeconds: 60,
        },
      ],
      controlEnv: { FLOE_SHUTDOWN_WARNING_SECONDS: '50', FLOE_LOCAL_IDLE_CHECK_MS: '1000' },
      log: pino({ level: 'warn' }),
    });
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1000, height: 680 } });
    launcher = await context.newPage();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await platform?.close();
  });

  it('warns each viewer, honours “I’m still here” for idleness only, and tells why each ended', async () => {
    await launcher.goto(platform.url);
    await launcher.getByLabel('Email').fill('bob@acme.test');
    await launcher.getByLabel('Password').fill('bob-pw');
    await launcher.getByRole('button', { name: 'Sign in' }).click();
    await launcher.waitForURL(`${platform.gatewayUrl}/`);
    await launcher.getByRole('button', { name: 'Launch Idler' }).click();
    await launcher.getByRole('button', { name: 'Launch Brief' }).click();
    const open = async (name: string) => {
      const link = launcher.getByRole('link', { name: `Open ${name}` });
      await link.waitFor({ timeout: 30_000 });
      const page = await context.newPage();
      await page.goto(new URL((await link.getAttribute('href'))!, platform.gatewayUrl).href);
      await streaming(page);
      return page;
    };
    const idler = await open('Idler');
    const brief = await open('Brief');
    const sessions = (await admin('/v1/tenants/acme/sessions?state=running')).items as {
      id: string;
      appId: string;
    }[];
    const apps = (await admin('/v1/tenants/acme/apps')).items as { id: string; slug: string }[];
    const idOf = (slug: string) =>
      sessions.find((s) => s.appId === apps.find((a) => a.slug === slug)?.id)!.id;

    // idle: the countdown shows 50 s ahead; the button ends it and resets the streamer's clock
    const idleWarning = idler.getByRole('alertdialog', { name: 'Are you still there?' });
    await idleWarning.waitFor({ timeout: 30_000 });
    expect(await idleWarning.locator('p').textContent()).toMatch(/shuts down in 0:[0-5]\d\./);
    await idler.screenshot({ path: join(ARTIFACTS, 'idle-warning.png') });
    const lastInput = () =>
      idler.evaluate(
        async () => (await (await fetch('healthz')).json()).lastInputAt as string | null,
      );
    expect(await lastInput()).toBeNull();
    const stillHereAt = Date.now();
    await idleWarning.getByRole('button', { name: 'I’m still here' }).click();
    await idleWarning.waitFor({ state: 'hidden' });
    await expect.poll(lastInput).not.toBeNull();

    // lifetime: the countdown says it cannot be extended, and offers no button
    const lifetimeWarning = brief.getByRole('alertdialog', {
      name: 'This session is about to end',
    });
    await lifetimeWarning.waitFor({ timeout: 30_000 });
    expect(await lifetimeWarning.locator('p').textContent()).toMatch(
      /maximum lifetime and shuts down in 0:[0-5]\d\. It cannot be extended/,
    );
    expect(await lifetimeWarning.getByRole('button').isVisible()).toBe(false);
    await brief.screenshot({ path: join(ARTIFACTS, 'lifetime-warning.png') });
    const ended = (page: Page, text: string) =>
      page.locator('#screen-message', { hasText: text }).waitFor({ timeout: 60_000 });
    await ended(brief, 'This session has ended. It reached its maximum lifetime.');
    expect(await lifetimeWarning.isVisible()).toBe(false);

    // the idle session outlived its first deadline by the reset, is warned again, then stops
    await idleWarning.waitFor({ timeout: 30_000 });
    await ended(idler, 'This session has ended. It was idle for too long: no input for 60s.');
    await idler.screenshot({ path: join(ARTIFACTS, 'idle-ended.png') });
    const idle = await admin(`/v1/tenants/acme/sessions/${idOf('idler')}`);
    expect(idle.reason).toBe('idle: no input for 60s');
    const stoppedAt = Date.parse(
      idle.events.find((e: { to: string }) => e.to === 'stopping').at as string,
    );
    expect(stoppedAt - stillHereAt).toBeGreaterThanOrEqual(59_000);
    const life = await admin(`/v1/tenants/acme/sessions/${idOf('brief')}`);
    expect(life.reason).toBe('maximum lifetime reached');

    // back on the launcher, each tile says why its session ended
    await launcher.reload();
    const status = (slug: string) => launcher.locator(`.tile[data-app="${slug}"] .tile-status`);
    await expect
      .poll(() => status('idler').textContent())
      .toBe('It was idle for too long: no input for 60s.');
    await expect.poll(() => status('brief').textContent()).toBe('It reached its maximum lifetime.');
    await launcher.screenshot({ path: join(ARTIFACTS, 'launcher-ended.png') });
  }, 240_000);
});
