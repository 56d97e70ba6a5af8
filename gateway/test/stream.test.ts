// End to end in a real browser: Chromium signs in at the identity provider's form, gets the
// launcher from the gateway, launches a real local session (an X display, the probe app and
// the streamer, started by the control plane), and plays its stream through the gateway:
// the stream page over the session proxy, its signalling WebSocket too, media over the
// testbed's TURN. The gateway's CSP must let both pages work.
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '@floe/testbed';
import { buildApp, buildWeb } from '@floe/web/build';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { pageFetch, signInByForms } from './helpers/pages.ts';
import { type Stack, startStack } from './helpers/stack.ts';

type Browser = Awaited<ReturnType<typeof launchChromium>>;

const PROBE_APP = fileURLToPath(import.meta.resolve('@floe/streamer/probe-app'));

let stack: Stack;
let browser: Browser;
beforeAll(async () => {
  const out = mkdtempSync(join(inject('testbed').tempRoot, 'gateway-e2e-web-'));
  const [stream] = await Promise.all([buildWeb({ outDir: out }), buildApp({ outDir: out })]);
  stack = await startStack({
    streaming: { command: [process.execPath, PROBE_APP, '--fps=15'], streamPage: stream.dir },
    webApp: out,
  });
  browser = await launchChromium();
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

/** A page that records CSP violations and script errors. */
async function openPage() {
  const context = await browser.newContext({ viewport: { width: 800, height: 600 } });
  const page = await context.newPage();
  const csp: string[] = [];
  const errors: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) csp.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(`${page.url()}: ${e.message}`));
  return { page, csp, errors };
}

describe('Chromium through the gateway', () => {
  let bob: Awaited<ReturnType<typeof openPage>>;
  let id: string;

  it('signs in at the provider and gets the launcher, within the CSP', async () => {
    bob = await openPage();
    await signInByForms(bob.page, stack.url, 'bob');
    await expect
      .poll(() => bob.page.evaluate(() => document.querySelector('script')?.src))
      .toBe(`${stack.url}/app/app.js`);
    const me = await pageFetch(bob.page, 'GET', '/api/v1/me');
    expect(me.body).toMatchObject({ role: 'member', user: { email: 'bob@acme.test' } });
    expect(bob.csp).toEqual([]);
  });

  it('launches a session from the page and streams it through the gateway', async () => {
    const launched = await pageFetch(bob.page, 'POST', '/api/v1/tenants/acme/sessions', {
      app: 'desktop',
    });
    expect(launched.status, JSON.stringify(launched.body)).toBe(201);
    id = launched.body.id;
    await expect
      .poll(
        async () =>
          (await pageFetch(bob.page, 'GET', `/api/v1/tenants/acme/sessions/${id}`)).body.state,
        {
          timeout: 30_000,
        },
      )
      .toBe('running');

    const { page } = bob;
    // as the launcher links it: the trailing slash comes from the gateway's redirect
    await page.goto(`${stack.url}/sessions/${id}?relay=1`);
    expect(page.url()).toBe(`${stack.url}/sessions/${id}/?relay=1`);
    await page.waitForFunction(() => document.body.dataset.state === 'streaming', undefined, {
      timeout: 30_000,
    });
    await expect
      .poll(() => page.evaluate(() => document.querySelector('video')!.videoWidth), {
        timeout: 20_000,
      })
      .toBeGreaterThan(0);
    expect(bob.csp).toEqual([]);
    expect(bob.errors).toEqual([]);
  });

  it('leaves the session’s streamer closed to whoever reaches it without the gateway', async () => {
    const session = await stack.admin('GET', `/v1/tenants/acme/sessions/${id}`);
    const endpoint = new URL('signal', session.body.endpoint);
    // a WebSocket handshake straight to the pod's port, as another pod or the app could send
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(endpoint, {
        headers: {
          connection: 'Upgrade',
          upgrade: 'websocket',
          'sec-websocket-version': '13',
          'sec-websocket-key': Buffer.from(randomUUID().slice(0, 16)).toString('base64'),
        },
      });
      req.on('response', (res) => resolve(res.statusCode ?? 0));
      req.on('upgrade', (_res, socket) => {
        socket.destroy();
        resolve(101);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(401);
  });

  it('shows another user of the tenant nothing of it', async () => {
    const alice = await openPage();
    await signInByForms(alice.page, stack.url, 'alice');
    const res = await alice.page.goto(`${stack.url}/sessions/${id}/`);
    expect(res?.status()).toBe(404);
    // a page with the way back, the same as for a session that does not exist
    expect(await alice.page.locator('h1').textContent()).toBe('Session not found');
    expect(await alice.page.locator('a').getAttribute('href')).toBe('/');
    const state = await pageFetch(alice.page, 'GET', `/sessions/${id}/state`);
    const missing = await pageFetch(alice.page, 'GET', `/sessions/${randomUUID()}/state`);
    expect(state).toEqual({ status: 404, body: { error: expect.anything() } });
    expect(state).toEqual(missing);
    const signal = await alice.page.evaluate(
      (url) =>
        new Promise<string>((resolve) => {
          const ws = new WebSocket(url);
          ws.onopen = () => resolve('open');
          ws.onerror = () => resolve('refused');
        }),
      `${stack.url.replace('http', 'ws')}/sessions/${id}/signal`,
    );
    expect(signal).toBe('refused');
    await alice.page.context().close();
  });

  it('tells the stream page that its session was shut down, and stops reconnecting', async () => {
    const { page } = bob;
    const sockets: string[] = [];
    page.on('websocket', (ws) => sockets.push(ws.url()));
    // shut down from the launcher, in another tab of the same sign-in
    const launcher = await page.context().newPage();
    await launcher.goto(`${stack.url}/`);
    const stopped = await pageFetch(launcher, 'DELETE', `/api/v1/tenants/acme/sessions/${id}`);
    expect(stopped.status, JSON.stringify(stopped.body)).toBeLessThan(300);
    await page.waitForFunction(() => document.body.dataset.state === 'ended', undefined, {
      timeout: 30_000,
    });
    expect(await page.locator('#screen-message').textContent()).toBe(
      'This session has ended. You shut it down.',
    );
    const back = page.locator('#screen-link');
    expect(await back.isVisible()).toBe(true);
    expect(await back.evaluate((a) => (a as HTMLAnchorElement).href)).toBe(`${stack.url}/`);
    // no more attempts: the next retry would have come within a few seconds (at most 8 s)
    const attempts = sockets.length;
    await page.waitForTimeout(9_000);
    expect(sockets.length).toBe(attempts);
    expect(await page.evaluate(() => document.body.dataset.state)).toBe('ended');
    expect(await page.locator('#status').textContent()).not.toMatch(/reconnecting/);
    await back.click();
    await page.waitForURL(`${stack.url}/`);
    expect(bob.errors).toEqual([]);
    await launcher.close();
  });

  it('answers a browser opening an ended or removed session’s URL with a page', async () => {
    const { page } = bob;
    const ended = await page.goto(`${stack.url}/sessions/${id}/`);
    expect(ended?.status()).toBe(404);
    expect(ended?.headers()['content-type']).toMatch(/^text\/html/);
    expect(await page.locator('h1').textContent()).toBe('This session has ended');
    expect(await page.locator('p').first().textContent()).toBe('You shut it down.');
    expect(await page.locator('a').getAttribute('href')).toBe('/');

    const removed = await page.goto(`${stack.url}/sessions/${randomUUID()}/`);
    expect(removed?.status()).toBe(404);
    expect(await page.locator('h1').textContent()).toBe('Session not found');
    expect(await page.locator('a').getAttribute('href')).toBe('/');

    // API clients still get JSON, and the owner's state endpoint says why it ended
    const api = await pageFetch(page, 'GET', `/sessions/${id}/`);
    expect(api).toEqual({
      status: 404,
      body: { error: { code: 'not_found', message: expect.any(String) } },
    });
    const state = await pageFetch(page, 'GET', `/sessions/${id}/state`);
    expect(state).toEqual({
      status: 200,
      body: { state: 'stopped', ended: true, message: 'You shut it down.', lifetime: null },
    });
    expect(bob.csp).toEqual([]);
  });
});
