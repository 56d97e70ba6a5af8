// Takes the README's and docs' screenshots of the real product (docs/screenshots/):
// launcher-real.png (the launcher with a running Terminal session), stream-stats.png (the
// stream page's stats panel beside the probe app) and stream-files.png (the file panel over
// the Terminal: an upload done, one under way, and ~/Downloads listed) and stream-sharing.png
// (the Terminal shared with bob, view-only, as its owner sees the viewer list). Runs the whole platform as `npm start`
// does, on free ports, with its data in a temporary folder:
//   node platform/scripts/screenshots.ts [out-dir]   (default docs/screenshots)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, launchChromium } from '@floe/testbed';
import { pino } from 'pino';
import { buildApp, buildWeb } from '../../web/build.ts';
import { DEMO_APPS, startPlatform } from '../src/platform.ts';

if (process.argv.includes('--help')) {
  process.stdout.write(
    "node platform/scripts/screenshots.ts [out-dir]\n  takes the README's and docs' screenshots of the running platform (default out-dir: docs/screenshots)\n",
  );
  process.exit(0);
}
const out = resolve(process.argv[2] ?? 'docs/screenshots');
// the pages as they are in this checkout (web/dist, which the platform serves)
await Promise.all([buildWeb(), buildApp()]);
const PROBE_APP = fileURLToPath(import.meta.resolve('@floe/streamer/probe-app'));
const dataDir = mkdtempSync(join(tmpdir(), 'floe-screenshots-'));
const platform = await startPlatform({
  dataDir,
  port: await freePort(),
  metricsPort: await freePort(),
  controlPort: await freePort(),
  idpPort: await freePort(),
  apps: [
    ...DEMO_APPS,
    {
      slug: 'probe',
      name: 'Probe',
      description: 'paints frames and a time barcode',
      command: [process.execPath, PROBE_APP, '--fps=60'],
    },
  ],
  log: pino({ level: 'warn' }),
});
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  await page.goto(platform.url);
  await page.getByLabel('Email').fill('alice@acme.test');
  await page.getByLabel('Password').fill('alice-pw');
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForURL(`${platform.gatewayUrl}/`);
  await page.getByRole('button', { name: 'Launch Terminal' }).click();
  await page.getByRole('link', { name: 'Open Terminal' }).waitFor({ timeout: 60_000 });
  await page.mouse.move(0, 0);
  await page.screenshot({ path: join(out, 'launcher-real.png') });

  await page.getByRole('button', { name: 'Launch Probe' }).click();
  const open = page.getByRole('link', { name: 'Open Probe' });
  await open.waitFor({ timeout: 60_000 });
  // wide enough that the stage beside the stats panel shows the whole time barcode
  await page.setViewportSize({ width: 1280, height: 700 });
  await page.goto(`${await open.getAttribute('href')}`.replace(/^\//, `${platform.gatewayUrl}/`));
  await page.waitForFunction(() => document.body.dataset.state === 'streaming', null, {
    timeout: 30_000,
  });
  await page.keyboard.press('Control+Alt+Shift+S');
  await page.waitForFunction(
    () => document.querySelector('#stats')?.textContent?.includes('glass-to-glass (measured)'),
    null,
    { timeout: 30_000 },
  );
  // a few seconds of samples for the percentiles, with the display at the stage's size
  await new Promise((r) => setTimeout(r, 5000));
  await page.waitForFunction(
    () => document.querySelector('#stats')?.textContent?.includes('glass-to-glass (measured)'),
    null,
    { timeout: 30_000 },
  );
  await page.mouse.move(0, 0);
  await page.screenshot({ path: join(out, 'stream-stats.png') });

  // the file panel, over the Terminal whose shell made a file in ~/Downloads
  await page.goto(platform.url);
  const terminal = page.getByRole('link', { name: 'Open Terminal' });
  await page.goto(
    `${await terminal.getAttribute('href')}`.replace(/^\//, `${platform.gatewayUrl}/`),
  );
  await page.waitForFunction(() => document.body.dataset.state === 'streaming', null, {
    timeout: 30_000,
  });
  // the terminal's first frame, then the keyboard to it
  await page.waitForFunction(() => (document.querySelector('video')?.videoWidth ?? 0) > 0);
  await new Promise((r) => setTimeout(r, 2000));
  await page.locator('#stage').click();
  await page.keyboard.type('mkdir -p ~/Downloads && seq 1 200000 > ~/Downloads/numbers.txt\n', {
    delay: 20,
  });
  await page.getByRole('button', { name: 'Files panel' }).click();
  await page.locator('#files-input').setInputFiles([
    {
      name: 'quarterly-report.pdf',
      mimeType: 'application/pdf',
      buffer: Buffer.alloc(900_000, 7),
    },
  ]);
  await page.waitForSelector('#files-transfers li[data-status="done"]', { timeout: 60_000 });
  await page.getByRole('button', { name: 'Refresh' }).click();
  await page
    .getByRole('button', { name: 'Download numbers.txt' })
    .waitFor({ timeout: 10_000 })
    .catch(async (error) => {
      await page.screenshot({ path: join(out, 'stream-files-failed.png') });
      throw error;
    });
  await page.locator('#stage').click({ position: { x: 10, y: 10 } });
  await page.keyboard.type('ls -l ~/Uploads\n', { delay: 20 });
  await new Promise((r) => setTimeout(r, 1500));
  await page.mouse.move(0, 0);
  await page.screenshot({ path: join(out, 'stream-files.png') });

  // sharing: alice shares the Terminal with bob, view-only (a user is known from their
  // first sign-in on); he opens it; she sees him in her viewer list
  const bob = await browser.newPage({ viewport: { width: 1000, height: 700 } });
  await bob.goto(platform.url);
  await bob.getByLabel('Email').fill('bob@acme.test');
  await bob.getByLabel('Password').fill('bob-pw');
  await bob.getByRole('button', { name: 'Sign in', exact: true }).click();
  await bob.waitForURL(`${platform.gatewayUrl}/`);
  await page.getByRole('button', { name: 'Files panel' }).click();
  await page.locator('#viewers').click();
  await page.getByLabel('Share with (email)').fill('bob@acme.test');
  await page.getByLabel('What they may do').selectOption('viewer');
  await page.getByRole('button', { name: 'Share', exact: true }).click();
  await page
    .locator('#share-status', { hasText: 'Shared with bob@acme.test.' })
    .waitFor()
    .catch(async (error) => {
      await page.screenshot({ path: join(out, 'stream-sharing-failed.png') });
      throw error;
    });
  await bob.goto(page.url());
  await bob.waitForFunction(() => document.body.dataset.state === 'streaming', null, {
    timeout: 30_000,
  });
  await page.locator('#viewers-list li', { hasText: 'bob@acme.test' }).waitFor({ timeout: 10_000 });
  await page.getByRole('button', { name: 'Make a link' }).click();
  await page.waitForFunction(
    () => (document.querySelector('#share-url') as HTMLInputElement).value.includes('share='),
    null,
    { timeout: 10_000 },
  );
  await page.mouse.move(0, 0);
  await page.screenshot({ path: join(out, 'stream-sharing.png') });
  process.stdout.write(`screenshots in ${out}\n`);
} finally {
  await browser.close();
  await platform.close();
  rmSync(dataDir, { recursive: true, force: true });
}
