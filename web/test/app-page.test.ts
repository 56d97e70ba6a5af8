/**
 * The built launcher and console in real Chromium, against the stand-in API (stand-in-api.ts:
 * a stand-in for the gateway and control plane, in memory). With FLOE_WEB_SCREENSHOTS=<dir> it
 * also saves launcher.png and console.png there (docs/screenshots holds the committed ones).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { launchChromium } from '@floe/testbed';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AppCreate, UserPatch } from '../../control/src/http/schemas.ts';
import { buildApp } from '../build.ts';
import { defaultData, type StandIn, startStandIn } from './stand-in-api.ts';

let outDir: string;
let dir: string;
let browser: Browser;
let standIn: StandIn | undefined;
const screenshots = process.env.FLOE_WEB_SCREENSHOTS
  ? resolve(process.env.FLOE_WEB_SCREENSHOTS)
  : null;

beforeAll(async () => {
  outDir = mkdtempSync(join(tmpdir(), 'floe-web-app-'));
  ({ dir } = await buildApp({ outDir }));
  browser = await launchChromium(['--headless=new']);
  if (screenshots) mkdirSync(screenshots, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  rmSync(outDir, { recursive: true, force: true });
});

afterEach(async () => {
  await standIn?.close();
  standIn = undefined;
});

/** A page that records script errors and unexpected console errors. */
async function openPage(url: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    // Chromium logs every 4xx/5xx answer; the refusals are part of these tests.
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) {
      errors.push(`console: ${m.text()}`);
    }
  });
  await page.goto(url);
  return { page, errors };
}

const tile = (page: Page, slug: string) => page.locator(`.tile[data-app="${slug}"]`);

describe('launcher', () => {
  it('shows the header, the app tiles with GPU badges, and no sessions yet', async () => {
    standIn = await startStandIn(dir);
    const { page, errors } = await openPage(`${standIn.url}/`);
    await expect.poll(() => page.locator('.tile').count()).toBe(3);
    expect(await page.title()).toBe('Apps — Floe');
    const header = page.locator('header.topbar');
    expect(await header.textContent()).toContain('Acme Studios');
    expect(await header.textContent()).toContain('ada@acme.example');
    expect(await header.locator('a', { hasText: 'Sign out' }).getAttribute('href')).toBe('/logout');
    // a member gets no console link
    expect(await header.locator('a', { hasText: 'Console' }).count()).toBe(0);

    expect(await tile(page, 'blender').locator('.badge').textContent()).toBe('1× L4');
    expect(await tile(page, 'jupyter').locator('.badge').textContent()).toBe('2× A100');
    expect(await tile(page, 'vscode').locator('.badge').count()).toBe(0);
    expect(await tile(page, 'blender').locator('img.tile-icon').count()).toBe(1);
    expect(await tile(page, 'vscode').locator('.initials').textContent()).toBe('VS');
    await expect.poll(() => tile(page, 'jupyter').locator('.initials').textContent()).toBe('Ju');
    expect(await page.locator('.session-list').textContent()).toContain('No sessions running');
    // tiles are in alphabetical order and each LAUNCH names its app for screen readers
    expect(await page.locator('.tile h3').allTextContents()).toEqual([
      'Blender',
      'JupyterLab',
      'Visual Studio Code',
    ]);
    expect(await page.getByRole('button', { name: 'Launch Blender' }).count()).toBe(1);
    // the first Tab reaches the skip link, which moves on to the content
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('main');
    expect(new URL(page.url()).pathname).toBe('/');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('LAUNCH follows the progress stream through to OPEN', async () => {
    standIn = await startStandIn(dir);
    const { page, errors } = await openPage(`${standIn.url}/`);
    await page.getByRole('button', { name: 'Launch Blender' }).click();
    const status = tile(page, 'blender').locator('.tile-status');
    await expect.poll(() => status.textContent()).toBe('Finding a GPU cluster…');

    const launch = standIn.requests.find((r) => r.method === 'POST');
    expect(launch?.path).toBe('/tenants/acme/sessions');
    expect(launch?.body).toEqual({ app: 'blender' });
    expect(launch?.headers['x-csrf-token']).toBe(standIn.csrf);
    expect(launch?.headers['content-type']).toBe('application/json');
    const id = standIn.data.sessions[0]!.id;

    const steps = () =>
      tile(page, 'blender')
        .locator('.step')
        .evaluateAll((els) => els.map((e) => e.className));
    standIn.advance(id, 'placed');
    await expect.poll(() => status.textContent()).toBe('Placed — starting the app…');
    expect(await steps()).toEqual(['step done', 'step current', 'step todo']);
    standIn.advance(id, 'starting');
    await expect.poll(() => status.textContent()).toBe('Starting the app and streamer…');
    expect(await page.locator('.session-list').textContent()).toContain('Starting');
    standIn.advance(id, 'running');

    const open = tile(page, 'blender').getByRole('link', { name: 'Open Blender' });
    await open.waitFor();
    expect(await open.getAttribute('href')).toBe(`/sessions/${id}/?back=/`);
    expect(await tile(page, 'blender').locator('.steps').isHidden()).toBe(true);
    expect(await page.locator(`.session[data-session="${id}"]`).textContent()).toContain('Running');
    // The progress came over one event stream, not by polling the session.
    expect(standIn.requests.filter((r) => r.path.endsWith('/progress'))).toHaveLength(1);
    expect(standIn.requests.filter((r) => r.path === `/tenants/acme/sessions/${id}`)).toHaveLength(
      0,
    );

    await open.click();
    await page.waitForURL(`${standIn.url}/sessions/${id}/?back=/`);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('says a quota refusal in plain words on the tile', async () => {
    const data = defaultData();
    data.tenant.quotas.maxSessions = 1;
    standIn = await startStandIn(dir, { data });
    standIn.seedSession('vscode', 'running');
    const { page, errors } = await openPage(`${standIn.url}/`);
    await page.getByRole('button', { name: 'Launch Blender' }).click();
    const status = tile(page, 'blender').locator('.tile-status');
    await expect
      .poll(() => status.textContent())
      .toBe(
        'Your organization can run 1 session at once, and all are in use. Shut one down, or ask an admin of your organization about the limit.',
      );
    expect(await tile(page, 'blender').getAttribute('class')).toContain('has-error');
    // the tile can launch again once a session is freed
    expect(await page.getByRole('button', { name: 'Launch Blender' }).isEnabled()).toBe(true);

    // A per-type GPU limit names the type
    data.tenant.quotas.maxSessions = null;
    data.tenant.quotas.maxGpusPerSku = { l4: 1 };
    standIn.seedSession('blender', 'running');
    await page.getByRole('button', { name: 'Launch Blender' }).click();
    await expect
      .poll(() => status.textContent())
      .toBe(
        'Your organization may use 1 l4 GPU at once and 1 is in use, too few for this app. Try again when a session ends, or ask an admin of your organization about the limit.',
      );
    data.tenant.quotas.maxGpusPerSku = {};

    // Full clusters: the retry hint comes from Retry-After.
    data.tenant.quotas.maxSessions = null;
    data.capacity = false;
    await page.getByRole('button', { name: 'Launch Blender' }).click();
    await expect
      .poll(() => status.textContent())
      .toBe('Every GPU that could run this is busy right now. Try again in 5 seconds.');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('tells a tenant admin which limit stopped a launch and who changes it', async () => {
    const data = defaultData('tenant-admin');
    data.tenant.quotas.maxSessions = 1;
    standIn = await startStandIn(dir, { data });
    standIn.seedSession('vscode', 'running');
    const { page, errors } = await openPage(`${standIn.url}/`);
    await page.getByRole('button', { name: 'Launch Blender' }).click();
    const status = tile(page, 'blender').locator('.tile-status');
    await expect
      .poll(() => status.textContent())
      .toBe(
        'Your organization can run 1 session at once, and all are in use. Shut one down, or ask the platform operator, who sets your organization’s limits, to raise it (Console → Quotas & use shows them).',
      );
    expect(errors).toEqual([]);
    await page.close();
  });

  it('shows each action once per session: on its tile, or in the list when no tile shows it', async () => {
    standIn = await startStandIn(dir);
    const older = standIn.seedSession('blender', 'running', 30);
    const newer = standIn.seedSession('blender', 'running', 5);
    standIn.seedSession('vscode', 'running', 10);
    const { page, errors } = await openPage(`${standIn.url}/`);
    await page.locator(`.session[data-session="${older.id}"]`).waitFor();
    await tile(page, 'blender').getByRole('link', { name: 'Open Blender' }).waitFor();
    // three sessions, three Open links and three Shut down buttons in all
    expect(await page.getByRole('link', { name: /^Open / }).count()).toBe(3);
    expect(await page.getByRole('button', { name: /^Shut down / }).count()).toBe(3);
    expect(await page.getByRole('link', { name: 'Open Visual Studio Code' }).count()).toBe(1);
    // the tile shows the newest Blender session; the older one keeps its actions in the list
    const olderRow = page.locator(`.session[data-session="${older.id}"]`);
    expect(await olderRow.getByRole('link', { name: 'Open Blender' }).getAttribute('href')).toBe(
      `/sessions/${older.id}/?back=/`,
    );
    expect(
      await tile(page, 'blender').getByRole('link', { name: 'Open Blender' }).getAttribute('href'),
    ).toBe(`/sessions/${newer.id}/?back=/`);
    const newerRow = page.locator(`.session[data-session="${newer.id}"]`);
    expect(await newerRow.locator('a.button, button').count()).toBe(0);
    expect(await newerRow.locator('a.session-app').getAttribute('href')).toBe(
      `#app-${newer.appId}`,
    );
    expect(errors).toEqual([]);
    await page.close();
  });

  it('SHUT DOWN stops the session and removes it', async () => {
    standIn = await startStandIn(dir);
    const session = standIn.seedSession('blender', 'running');
    const { page, errors } = await openPage(`${standIn.url}/`);
    const row = page.locator(`.session[data-session="${session.id}"]`);
    await row.waitFor();
    expect(await row.textContent()).toContain('Blender');
    await tile(page, 'blender').getByRole('button', { name: 'Shut down Blender' }).click();
    await expect
      .poll(() => tile(page, 'blender').locator('.tile-status').textContent())
      .toBe('Shutting down…');
    const stop = standIn.requests.find((r) => r.method === 'DELETE');
    expect(stop?.path).toBe(`/tenants/acme/sessions/${session.id}`);
    expect(stop?.headers['x-csrf-token']).toBe(standIn.csrf);

    standIn.advance(session.id, 'stopped');
    await row.waitFor({ state: 'detached' });
    expect(await page.locator('.session-list').textContent()).toContain('No sessions running');
    await page.getByRole('button', { name: 'Launch Blender' }).waitFor();
    expect(errors).toEqual([]);
    await page.close();
  });

  it('tells why a session stopped when its user did not shut it down, until dismissed', async () => {
    standIn = await startStandIn(dir);
    // stopped for idleness before the page opened (the user comes back from the stream page)
    const idle = standIn.seedSession('blender', 'running');
    standIn.advance(idle.id, 'stopping', 'idle: no input for 60s');
    standIn.advance(idle.id, 'stopped');
    const running = standIn.seedSession('vscode', 'running');
    const { page, errors } = await openPage(`${standIn.url}/`);
    const status = (slug: string) => tile(page, slug).locator('.tile-status');
    await expect
      .poll(() => status('blender').textContent())
      .toBe('It was idle for too long: no input for 60s.');
    await tile(page, 'blender').getByRole('button', { name: 'Launch Blender' }).waitFor();
    if (screenshots) await page.screenshot({ path: join(screenshots, 'launcher-ended.png') });

    // one that ends while the launcher is open (its maximum lifetime), seen on the next look
    standIn.advance(running.id, 'stopping', 'maximum lifetime reached');
    standIn.advance(running.id, 'stopped');
    await page.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
    await expect
      .poll(() => status('vscode').textContent())
      .toBe('It reached its maximum lifetime.');
    expect(await page.locator('.session-list').textContent()).toContain('No sessions running');

    // dismissed, it stays dismissed on the next visit
    await tile(page, 'blender')
      .getByRole('button', { name: /Dismiss why it stopped/ })
      .click();
    await expect.poll(() => status('blender').textContent()).toBe('');
    await page.reload();
    await expect
      .poll(() => status('vscode').textContent())
      .toBe('It reached its maximum lifetime.');
    expect(await status('blender').textContent()).toBe('');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('runs a whole launch on its own with a live stand-in', async () => {
    standIn = await startStandIn(dir, { autoAdvanceMs: 150 });
    standIn.seedSession('vscode', 'running', 42);
    const { page, errors } = await openPage(`${standIn.url}/`);
    await page.getByRole('button', { name: 'Launch Blender' }).click();
    await tile(page, 'blender').getByRole('link', { name: 'Open Blender' }).waitFor();
    expect(await page.locator('.session[data-state="running"]').count()).toBe(2);
    expect(errors).toEqual([]);
    await page.close();
  });

  it.skipIf(!screenshots)('screenshot: running sessions and a launch in progress', async () => {
    standIn = await startStandIn(dir);
    standIn.seedSession('vscode', 'running', 42);
    standIn.seedSession('blender', 'running', 7);
    const { page } = await openPage(`${standIn.url}/`);
    await page.getByRole('button', { name: 'Launch JupyterLab' }).click();
    await expect.poll(() => standIn!.data.sessions.length).toBe(3);
    const id = standIn.data.sessions[0]!.id;
    standIn.advance(id, 'placed');
    standIn.advance(id, 'starting');
    await expect
      .poll(() => tile(page, 'jupyter').locator('.tile-status').textContent())
      .toBe('Starting the app and streamer…');
    await page.mouse.move(0, 0);
    await page.screenshot({ path: join(screenshots!, 'launcher.png') });
    await page.close();
  });
});

describe('console', () => {
  it('lists users, adds one and creates an app', async () => {
    standIn = await startStandIn(dir, { data: defaultData('tenant-admin') });
    const { page, errors } = await openPage(`${standIn.url}/console`);
    await page.waitForURL(`${standIn.url}/console/users`);
    const rows = page.locator('tr[data-user]');
    await expect.poll(() => rows.count()).toBe(3);
    expect(await rows.evaluateAll((r) => r.map((e) => (e as HTMLElement).dataset.user))).toEqual([
      'ada@acme.example',
      'grace@acme.example',
      'linus@acme.example',
    ]);

    await page.getByLabel('Email').fill('new.person@acme.example');
    await page.getByRole('button', { name: 'Add user' }).click();
    await page.locator('tr[data-user="new.person@acme.example"]').waitFor();
    expect(standIn.requests.find((r) => r.method === 'POST')?.body).toEqual({
      email: 'new.person@acme.example',
      role: 'member',
    });

    // Apps, through the section navigation (no reload: the same document).
    await page.evaluate(() => {
      (window as unknown as { marker: number }).marker = 1;
    });
    await page
      .getByRole('navigation', { name: 'Console sections' })
      .getByRole('link', { name: 'Apps' })
      .click();
    await page.waitForURL(`${standIn.url}/console/apps`);
    await expect.poll(() => page.locator('tr[data-app]').count()).toBe(3);
    await page.getByRole('link', { name: 'New app' }).click();
    await page.waitForURL(`${standIn.url}/console/apps/new`);

    // A mistake is named beside its field, and nothing is sent.
    await page.getByLabel('Slug').fill('Bad Slug');
    await page.getByRole('button', { name: 'Create app' }).click();
    await expect
      .poll(() => page.locator('[data-field="slug"] .field-error').textContent())
      .toMatch(/Lowercase/);
    expect(await page.getByLabel('Slug').getAttribute('aria-invalid')).toBe('true');
    expect(
      standIn.requests.filter((r) => r.path.endsWith('/apps') && r.method === 'POST'),
    ).toHaveLength(0);

    await page.getByLabel('Slug').fill('paraview');
    await page.getByLabel('Name').fill('ParaView');
    await page.getByLabel('Description').fill('Scientific visualisation.');
    await page.getByLabel('Command').fill('paraview --title "Floe ParaView"');
    await page.getByLabel('GPU type').fill('L4');
    await page.getByLabel('GPUs').fill('1');
    await page.getByLabel('Maximum lifetime (minutes)').fill('240');
    await page.getByRole('button', { name: 'Create app' }).click();
    await page.waitForURL(`${standIn.url}/console/apps`);
    await page.locator('tr[data-app="paraview"]').waitFor();
    expect(await page.locator('.notice.ok').textContent()).toBe('Created ParaView.');
    expect(await page.locator('tr[data-app="paraview"]').textContent()).toContain('1× L4');

    const body = standIn.requests.find(
      (r) => r.path === '/tenants/acme/apps' && r.method === 'POST',
    )?.body;
    expect(body).toEqual({
      slug: 'paraview',
      name: 'ParaView',
      description: 'Scientific visualisation.',
      icon: null,
      image: null,
      command: ['paraview', '--title', 'Floe ParaView'],
      resources: { cpu: '1', memory: '2Gi', gpus: { sku: 'l4', count: 1 } },
      class: null,
      persistence: null,
      idleTimeoutSeconds: null,
      maxLifetimeSeconds: 14_400,
      env: {},
    });
    // the control plane would take it as it is
    expect(AppCreate.safeParse(body).success).toBe(true);
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(1);
    if (screenshots) await page.screenshot({ path: join(screenshots, 'console.png') });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('shows live sessions with shut down, usage, and the token of a new API key once', async () => {
    standIn = await startStandIn(dir, { data: defaultData('tenant-admin') });
    const s = standIn.seedSession('blender', 'running');
    const { page, errors } = await openPage(`${standIn.url}/console/sessions`);
    const row = page.locator(`tr[data-session="${s.id}"]`);
    await row.waitFor();
    expect(await row.textContent()).toContain('ada@acme.example');
    expect(await row.textContent()).toContain('Blender');
    // the same word as the launcher's for the same action
    await row.getByRole('button', { name: 'Shut down' }).click();
    await row.getByRole('button', { name: /Shut down Blender of ada@acme.example\?/ }).click();
    await expect.poll(() => standIn!.data.sessions[0]!.state).toBe('stopping');

    await page.getByRole('link', { name: 'Usage' }).click();
    await page.getByRole('heading', { name: 'Per user' }).waitFor();
    expect(await page.locator('.totals').textContent()).toContain('15.0 h of session time');
    const perApp = page.getByRole('table', { name: 'Usage per app' });
    // apps by their display name, the slug beside it
    expect(
      await perApp
        .locator('tbody tr')
        .first()
        .locator('td')
        .first()
        .locator('div')
        .allTextContents(),
    ).toEqual(['Blender', 'blender']);

    await page.getByRole('link', { name: 'API keys' }).click();
    await page.getByLabel('Name').fill('render-farm');
    await page.getByLabel('Role').selectOption('tenant-admin');
    await page.getByRole('button', { name: 'Create key' }).click();
    const token = page.getByLabel('Token of render-farm');
    await token.waitFor();
    expect(await token.inputValue()).toMatch(/^floe_/);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('shows and edits each user’s own limits, naming a mistake beside its field', async () => {
    const data = defaultData('tenant-admin');
    data.users.find((u) => u.email === 'grace@acme.example')!.limits = {
      maxSessions: 3,
      maxGpus: 0,
      maxGpusPerSku: { l4: 1 },
    };
    standIn = await startStandIn(dir, { data });
    const { page, errors } = await openPage(`${standIn.url}/console/users`);
    const grace = page.locator('tr[data-user="grace@acme.example"]');
    await grace.waitFor();
    const users = page.getByRole('table', { name: 'Users' });
    expect(await users.locator('thead th').allTextContents()).toContain('Sessions at once');
    // null is "no limit", a number is a count of its unit (0 included)
    const cells = async (email: string) =>
      page
        .locator(`tr[data-user="${email}"] td`)
        .evaluateAll((tds) => tds.slice(2, 4).map((td) => td.textContent));
    expect(await cells('grace@acme.example')).toEqual(['3 sessions', '0 GPUs (l4: 1)']);
    expect(await cells('linus@acme.example')).toEqual(['no limit', 'no limit']);

    await page.getByRole('button', { name: 'Edit the limits of linus@acme.example' }).click();
    const form = page.getByRole('form', { name: 'Limits of linus@acme.example' });
    await form.getByLabel('Sessions at once').fill('-2');
    await form.getByLabel('GPUs at once', { exact: true }).fill('1.5');
    await form.getByLabel('GPUs at once, per type').fill('l4 lots');
    await form.getByRole('button', { name: 'Save limits' }).click();
    await expect
      .poll(() => form.locator('[data-field="maxSessions"] .field-error').textContent())
      .toBe('Leave empty for no limit, or a whole number.');
    expect(await form.locator('[data-field="maxGpus"] .field-error').textContent()).toBe(
      'Leave empty for no limit, or a whole number.',
    );
    expect(
      await form.locator('[data-field="maxGpusPerSku"] .field-error').textContent(),
    ).toBeTruthy();
    expect(await form.getByLabel('Sessions at once').getAttribute('aria-invalid')).toBe('true');
    expect(standIn.requests.filter((r) => r.method === 'PATCH')).toHaveLength(0);

    await form.getByLabel('Sessions at once').fill('2');
    await form.getByLabel('GPUs at once', { exact: true }).fill('');
    await form.getByLabel('GPUs at once, per type').fill('l4: 2');
    await form.getByRole('button', { name: 'Save limits' }).click();
    await expect
      .poll(() => page.locator('.notice.ok').textContent())
      .toBe('Saved the limits of linus@acme.example.');
    const patch = standIn.requests.find((r) => r.method === 'PATCH');
    expect(patch?.path).toMatch(/^\/tenants\/acme\/users\/[0-9a-f-]{36}$/);
    expect(patch?.body).toEqual({
      limits: { maxSessions: 2, maxGpus: null, maxGpusPerSku: { l4: 2 } },
    });
    // the control plane would take it as it is
    expect(UserPatch.safeParse(patch?.body).success).toBe(true);
    await expect
      .poll(() => cells('linus@acme.example'))
      .toEqual(['2 sessions', 'no limit (l4: 2)']);
    expect(await page.locator('tr.limits-editor').count()).toBe(0);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('says limits and use in plain words on Quotas & use', async () => {
    const data = defaultData('tenant-admin');
    data.tenant.quotas = {
      maxSessions: 10,
      maxGpus: null,
      gpuHoursPerMonth: 0,
      maxGpusPerSku: {},
      gpuHoursExceededAction: 'refuse',
    };
    standIn = await startStandIn(dir, { data });
    standIn.seedSession('blender', 'running');
    const { page, errors } = await openPage(`${standIn.url}/console/quotas`);
    const value = (label: string) =>
      page.locator(`[data-quota="${label}"] .meter-value`).textContent();
    await expect.poll(() => value('Concurrent sessions')).toBe('1 of 10 sessions');
    expect(await value('GPUs in use')).toBe('1 GPU');
    expect(await page.locator('[data-quota="GPUs in use"]').textContent()).toBe(
      'GPUs in use1 GPUno limit',
    );
    expect(await page.locator('.readonly-quotas dl').textContent()).toBe(
      'Concurrent sessions10 sessionsGPUs at onceno limitGPU-hours per month0 GPU-hours' +
        'GPUs at once, per typeno per-type limitWhen the GPU-hours are used upRefuse new GPU launches',
    );
    expect(await page.locator('main').textContent()).not.toMatch(/\(no limit\)|unlimited/);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('configures the identity provider; the client secret is write-only', async () => {
    standIn = await startStandIn(dir, { data: defaultData('tenant-admin') });
    const { page, errors } = await openPage(`${standIn.url}/console/identity`);
    await page.getByText('Not configured').waitFor();
    await page.getByLabel('Issuer URL').fill('https://login.acme.example/realms/acme');
    await page.getByLabel('Client ID').fill('floe');
    await page.getByLabel('Client secret').fill('s3cret');
    await page.getByLabel('Host names').fill('acme.floe.example');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText(/Configured · client secret stored/).waitFor();
    expect(standIn.requests.find((r) => r.method === 'PUT')?.body).toEqual({
      issuer: 'https://login.acme.example/realms/acme',
      clientId: 'floe',
      clientSecret: 's3cret',
      rolesClaim: 'floe_roles',
      adminRoles: ['tenant-admin'],
      hostnames: ['acme.floe.example'],
    });
    // the secret is never shown again; saving without it keeps it
    expect(await page.getByLabel('Client secret').inputValue()).toBe('');
    await page.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => standIn!.requests.filter((r) => r.method === 'PUT').length).toBe(2);
    expect(standIn.requests.filter((r) => r.method === 'PUT')[1]?.body).not.toHaveProperty(
      'clientSecret',
    );
    expect(errors).toEqual([]);
    await page.close();
  });

  it('switches files and clipboard off for the tenant, and limits one app’s file size', async () => {
    standIn = await startStandIn(dir, { data: defaultData('tenant-admin') });
    const { page, errors } = await openPage(`${standIn.url}/console/transfer`);
    const files = page.getByLabel('File upload and download');
    await files.waitFor();
    expect(await files.isChecked()).toBe(true);
    await files.uncheck();
    await page.getByLabel('Clipboard between the browser and the session').uncheck();
    await page.getByLabel('Largest file (MiB)').fill('-3');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('A size in MiB (0 or more), or empty for no limit.').waitFor();
    expect(standIn.requests.filter((r) => r.method === 'PUT')).toEqual([]);
    await page.getByLabel('Largest file (MiB)').fill('100');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Saved the tenant’s policy.').waitFor();
    const put = standIn.requests.find((r) => r.method === 'PUT');
    expect(put?.path).toBe('/tenants/acme/transfer-policy');
    expect(put?.body).toEqual({
      clipboard: false,
      files: false,
      maxFileBytes: 100 * 1024 * 1024,
      maxHomeBytes: null,
    });
    // one app: its own policy, loaded when it is chosen
    const app = standIn.data.apps[0]!;
    await page.getByLabel('Applies to').selectOption(app.slug);
    await expect.poll(() => page.getByLabel('Largest file (MiB)').inputValue()).toBe('');
    expect(await page.getByLabel('File upload and download').isChecked()).toBe(true);
    await page.getByLabel('Most a home may hold (MiB)').fill('2048');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText(`Saved the policy of ${app.name}.`).waitFor();
    const appPut = standIn.requests.filter((r) => r.method === 'PUT')[1];
    expect(appPut?.path).toBe(`/tenants/acme/apps/${app.slug}/transfer-policy`);
    expect(appPut?.body).toMatchObject({ files: true, maxHomeBytes: 2048 * 1024 * 1024 });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('shows the audit log with filters and a JSONL download', async () => {
    standIn = await startStandIn(dir, { data: defaultData('tenant-admin') });
    const { page, errors } = await openPage(`${standIn.url}/console/audit`);
    const rows = page.locator('tr[data-entry]');
    await rows.first().waitFor();
    expect(await rows.count()).toBe(3);
    await expect.poll(() => page.getByText('name: Blendr → Blender').count()).toBe(1);
    await page.getByLabel('Actor').selectOption('system');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().textContent()).toContain('session.stop');
    const href = await page.getByRole('link', { name: 'Download JSONL' }).getAttribute('href');
    expect(href).toBe('/api/v1/tenants/acme/audit-log/export?actorType=system');
    const jsonl = await (await fetch(standIn.url + href)).text();
    expect(jsonl.split('\n').map((l) => JSON.parse(l).action)).toEqual(['session.stop']);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('adds a webhook endpoint, shows its secret once, why Floe disabled one, and redelivers', async () => {
    const data = defaultData('tenant-admin');
    standIn = await startStandIn(dir, { data });
    const { page, errors } = await openPage(`${standIn.url}/console/webhooks`);
    await page.getByText('No webhook endpoints yet.').waitFor();
    await page.getByRole('button', { name: 'Add endpoint' }).click();
    await page.getByText('Choose at least one kind of event.').waitFor();
    await page.getByLabel('URL').fill('https://hooks.acme.example/floe');
    await page.getByLabel('Session transitions (session.*)').check();
    await page.getByRole('button', { name: 'Add endpoint' }).click();
    const secret = page.getByLabel('Signing secret');
    await secret.waitFor();
    expect(await secret.inputValue()).toMatch(/^whsec_/);
    expect(standIn.requests.find((r) => r.method === 'POST')?.body).toEqual({
      url: 'https://hooks.acme.example/floe',
      description: '',
      eventTypes: ['session.*'],
    });
    // Floe disabled it after sustained failure: the console says why
    const hook = data.webhooks[0]!;
    Object.assign(hook, {
      enabled: false,
      disabledReason: 'disabled after 20 failed attempts in a row; last: HTTP 500',
    });
    data.deliveries.push({
      id: crypto.randomUUID(),
      eventId: crypto.randomUUID(),
      endpointId: hook.id,
      eventType: 'session.failed',
      state: 'failed',
      attempts: 20,
      nextAttemptAt: null,
      lastAttemptAt: new Date().toISOString(),
      lastStatus: 500,
      lastError: 'HTTP 500',
      deliveredAt: null,
      createdAt: new Date().toISOString(),
      payload: { type: 'session.failed', timestamp: new Date().toISOString(), data: {} },
    });
    await page.reload();
    await page.getByText(/Disabled by Floe: disabled after 20 failed attempts/).waitFor();
    await page.getByRole('button', { name: 'Deliveries' }).click();
    await page.locator('tr[data-delivery]').first().waitFor();
    await page.getByRole('button', { name: 'Redeliver' }).click();
    await page.getByText('Queued session.failed again.').waitFor();
    await expect.poll(() => page.locator('tr[data-delivery]').count()).toBe(2);
    await page.getByRole('button', { name: 'Enable' }).click();
    await page.getByText('Endpoint enabled.').waitFor();
    expect(hook).toMatchObject({ enabled: true, disabledReason: null });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('platform admin sees tenants and clusters and edits a tenant’s quotas', async () => {
    standIn = await startStandIn(dir, { data: defaultData('platform-admin') });
    const { page, errors } = await openPage(`${standIn.url}/console/tenants`);
    await page.getByRole('table', { name: 'Tenants' }).waitFor();
    expect(await page.getByRole('table', { name: 'Tenants' }).textContent()).toContain(
      'Globex Research',
    );
    await page.getByRole('link', { name: 'Clusters' }).click();
    await page.getByRole('table', { name: 'Clusters' }).waitFor();
    expect(await page.getByRole('table', { name: 'Clusters' }).textContent()).toContain('16× L4');

    standIn.data.quotaEvents = [
      {
        type: 'quota.warning',
        quota: 'tenant.gpuHoursPerMonth',
        periodStart: '2026-12-01T00:00:00.000Z',
        data: { limitHours: 100, usedHours: 91 },
        at: '2026-12-05T10:00:00.000Z',
      },
    ];
    await page.getByLabel('Tenant', { exact: true }).selectOption('globex');
    await page.waitForURL(`${standIn.url}/console/users?tenant=globex`);
    await page.getByRole('link', { name: 'Quotas & use' }).click();
    await page.waitForURL(`${standIn.url}/console/quotas?tenant=globex`);
    await expect
      .poll(() => page.locator('.quota-events').textContent())
      .toBe('90 % of this month’s GPU-hours were used on 2026-12-05.');
    await page.getByLabel('Concurrent sessions', { exact: true }).fill('6');
    await page.getByLabel('GPUs at once, per type').fill('l4: 2, a100 x');
    await page.getByRole('button', { name: 'Save limits' }).click();
    await expect
      .poll(() => page.locator('[data-field="maxGpusPerSku"] .field-error').textContent())
      .toMatch(/^Write each as type: GPUs/);
    await page.getByLabel('GPUs at once, per type').fill('l4: 2, a100: 1');
    await page.getByLabel('When the GPU-hours are used up').selectOption('stop');
    await page.getByRole('button', { name: 'Save limits' }).click();
    await expect.poll(() => page.locator('.notice.ok').textContent()).toBe('Saved the limits.');
    const patch = standIn.requests.find((r) => r.method === 'PATCH');
    expect(patch?.path).toBe('/tenants/globex');
    expect(patch?.body).toEqual({
      quotas: {
        maxSessions: 6,
        maxGpus: null,
        gpuHoursPerMonth: null,
        maxGpusPerSku: { l4: 2, a100: 1 },
        gpuHoursExceededAction: 'stop',
      },
    });
    // a meter per limited GPU type, and the form shows what was saved
    await page.locator('[data-quota="l4 GPUs in use"]').waitFor();
    expect(await page.locator('[data-quota="a100 GPUs in use"] .meter-value').textContent()).toBe(
      '0 of 1 GPU',
    );
    expect(await page.getByLabel('GPUs at once, per type').inputValue()).toBe('l4: 2, a100: 1');
    expect(errors).toEqual([]);
    await page.close();
  });
});

describe('an expired sign-in', () => {
  it('sends the page to /login with the way back', async () => {
    standIn = await startStandIn(dir, { data: defaultData('tenant-admin') });
    standIn.data.signedIn = false;
    const { page } = await openPage(`${standIn.url}/console/users`);
    await page.waitForURL(`${standIn.url}/login?returnTo=%2Fconsole%2Fusers`);
    expect(await page.textContent('h1')).toBe('Sign in (stand-in)');
    await page.close();
  });

  it('during a launch, too', async () => {
    standIn = await startStandIn(dir);
    const { page } = await openPage(`${standIn.url}/`);
    await page.getByRole('button', { name: 'Launch Blender' }).waitFor();
    standIn.data.signedIn = false;
    await page.getByRole('button', { name: 'Launch Blender' }).click();
    await page.waitForURL(`${standIn.url}/login?returnTo=%2F`);
    await page.close();
  });
});
