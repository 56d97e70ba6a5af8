// A hostile session in a real browser: the session's server (helpers/hostile-session.ts, as a
// compromised app could run in place of its streamer) answers with a page of its own, scripts,
// a service worker for the whole origin, HTML disguised as text or untyped, an SVG with
// script, redirects to /api, cookies and Clear-Site-Data. Chromium, signed in through the
// real gateway as the session's owner, visits and loads all of it through /sessions/{id}/.
// None of the session's script may run on the gateway's origin, nor read /api as the user:
// each of its scripts logs `pwned:` lines, and no page of the gateway's origin may log one.
// The control: the same server visited directly (its own origin) does run them.
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { launchChromium } from '@floe/testbed';
import { buildApp, buildWeb } from '@floe/web/build';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startHostileSession } from './helpers/hostile-session.ts';
import { type Page, pageFetch, signInByForms } from './helpers/pages.ts';
import { type Stack, startStack } from './helpers/stack.ts';

type Browser = Awaited<ReturnType<typeof launchChromium>>;

let stack: Stack;
let hostile: Awaited<ReturnType<typeof startHostileSession>>;
let browser: Browser;
let page: Page;
let id: string;
/** every console line of every page of the signed-in context, with the page's URL */
const logs: string[] = [];

beforeAll(async () => {
  const out = mkdtempSync(join(inject('testbed').tempRoot, 'gateway-hostile-web-'));
  const built = Promise.all([buildWeb({ outDir: out }), buildApp({ outDir: out })]);
  hostile = await startHostileSession();
  await built;
  stack = await startStack({ webApp: out, endpoint: (s) => `${hostile.url}/s/${s}/` });
  browser = await launchChromium();
  const context = await browser.newContext();
  context.on('page', (p) => p.on('console', (m) => logs.push(`${p.url()} ${m.text()}`)));
  page = await context.newPage();
  await signInByForms(page, stack.url, 'bob');
  const launched = await pageFetch(page, 'POST', '/api/v1/tenants/acme/sessions', {
    app: 'desktop',
  });
  expect(launched.status, JSON.stringify(launched.body)).toBe(201);
  id = launched.body.id;
  for (let i = 0; ; i++) {
    const session = await pageFetch(page, 'GET', `/api/v1/tenants/acme/sessions/${id}`);
    if (session.body.state === 'running') break;
    if (i > 100) throw new Error(`the session is not running: ${JSON.stringify(session.body)}`);
    await page.waitForTimeout(50);
  }
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await stack?.close();
  await hostile?.close();
});

const pwned = () => logs.filter((l) => l.includes('pwned'));
const gatewayUrl = (path: string) => `${stack.url}/sessions/${id}${path}`;

/** Lets a page's scripts run, and their fetches of /api come back, before looking. */
const settle = () => page.waitForTimeout(500);

describe('a hostile session, through the gateway in Chromium', () => {
  it('has its script run where it is served as it is (the control)', async () => {
    const direct = await page.context().newPage();
    await direct.goto(`${hostile.url}/s/${id}/evil.html`);
    await expect
      .poll(() => logs.filter((l) => l.startsWith(hostile.url)).length)
      .toBeGreaterThan(0);
    expect(logs.some((l) => l.includes(`pwned:${hostile.url}/s/${id}/evil.html`))).toBe(true);
    await direct.close();
    logs.length = 0;
  });

  it('never serves the stream page: the gateway serves its own, and the session is not asked', async () => {
    const asked = hostile.requests.length;
    const res = await page.goto(gatewayUrl('/'));
    expect(res?.status()).toBe(200);
    // the gateway's stream page (web/dist/stream), not the session's
    expect(await page.locator('video#video').count()).toBe(1);
    expect(await page.locator('#hostile').count()).toBe(0);
    expect(await page.evaluate(() => document.title)).toBe('Floe');
    for (const asset of ['/stream.js', '/stream.css']) {
      const r = await pageFetch(page, 'GET', gatewayUrl(asset));
      expect(r.status, asset).toBe(200);
    }
    await settle();
    // of the session, the page asks for its signalling only
    const signal = `/s/${id}/signal`;
    expect(hostile.requests.slice(asked).filter((r) => r !== signal)).toEqual([]);
    expect(pwned()).toEqual([]);
  });

  it('serves none of its HTML, SVG or scripts on the gateway’s origin', async () => {
    for (const path of ['/index.html', '/evil.html', '/picture.svg', '/evil.js', '/sw.js']) {
      const res = await page.goto(gatewayUrl(path));
      expect(res?.status(), path).toBe(502);
      expect(res?.headers()['content-type'], path).toBe('application/json');
      expect(await page.locator('#hostile').count(), path).toBe(0);
    }
    await settle();
    expect(pwned()).toEqual([]);
  });

  it('shows HTML disguised as text as text, and makes an untyped answer a download', async () => {
    const res = await page.goto(gatewayUrl('/plain.txt'));
    expect(res?.status()).toBe(200);
    expect(await page.evaluate(() => document.contentType)).toBe('text/plain');
    expect(await page.evaluate(() => document.scripts.length)).toBe(0);
    expect(res?.headers()['content-security-policy']).toMatch(/^sandbox;/);

    const download = page.waitForEvent('download');
    await page.goto(gatewayUrl('/untyped')).catch(() => {}); // a download is no navigation
    expect((await download).url()).toBe(gatewayUrl('/untyped'));
    await settle();
    expect(pwned()).toEqual([]);
  });

  it('loads no script of the session into a gateway page, even one with an injection', async () => {
    // the gateway's own stream page, as if an attacker had injected markup into it: its
    // CSP allows scripts from 'self', and /sessions/{id}/ is the same origin
    await page.goto(gatewayUrl('/'));
    const loaded = await page.evaluate(
      async (srcs) => {
        const results: string[] = [];
        const load = (src: string, type: string) =>
          new Promise<string>((resolve) => {
            const s = document.createElement('script');
            s.type = type;
            s.src = src;
            s.onload = () => resolve(`${src} ${type} loaded`);
            s.onerror = () => resolve(`${src} ${type} refused`);
            document.head.append(s);
          });
        for (const src of srcs) {
          results.push(await load(src, 'text/javascript'), await load(src, 'module'));
        }
        const frame = document.createElement('iframe');
        frame.src = srcs[0]!.replace('evil.js', 'evil.html');
        document.body.append(frame);
        await new Promise((r) => setTimeout(r, 300));
        return results;
      },
      [gatewayUrl('/evil.js'), gatewayUrl('/plain.txt')],
    );
    expect(loaded).toEqual([
      `${gatewayUrl('/evil.js')} text/javascript refused`,
      `${gatewayUrl('/evil.js')} module refused`,
      `${gatewayUrl('/plain.txt')} text/javascript refused`,
      `${gatewayUrl('/plain.txt')} module refused`,
    ]);
    await settle();
    expect(pwned()).toEqual([]);
  });

  it('registers no service worker of the session’s, for the origin or its own path', async () => {
    await page.goto(gatewayUrl('/'));
    const outcomes = await page.evaluate(async (sw) => {
      const out: string[] = [];
      for (const scope of ['/', sw.replace('sw.js', '')]) {
        out.push(
          await navigator.serviceWorker.register(sw, { scope }).then(
            () => `${scope} registered`,
            () => `${scope} refused`,
          ),
        );
      }
      out.push(`${(await navigator.serviceWorker.getRegistrations()).length} registrations`);
      return out;
    }, gatewayUrl('/sw.js'));
    expect(outcomes).toEqual(['/ refused', `${gatewayUrl('/')} refused`, '0 registrations']);
    expect(pwned()).toEqual([]);
  });

  it('cannot redirect the browser to /api or away', async () => {
    for (const path of ['/to-api', '/to-elsewhere']) {
      const res = await page.goto(gatewayUrl(path));
      expect(res?.status(), path).toBe(502);
      expect(page.url()).toBe(gatewayUrl(path));
    }
    await page.goto(gatewayUrl('/'));
    const fetched = await pageFetch(page, 'GET', gatewayUrl('/to-api'));
    expect(fetched.status).toBe(502);
    expect(fetched.body.error.code).toBe('bad_gateway');
  });

  it('sets no cookie and clears nothing: the user stays signed in', async () => {
    await page.goto(gatewayUrl('/'));
    const before = await page.context().cookies(stack.url);
    const res = await page.goto(gatewayUrl('/data.json'));
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-security-policy']).toMatch(/^sandbox; default-src 'none'/);
    expect(res?.headers()['x-content-type-options']).toBe('nosniff');
    expect(res?.headers()['set-cookie']).toBeUndefined();
    expect(await page.context().cookies(stack.url)).toEqual(before);
    await page.goto(`${stack.url}/`);
    const me = await pageFetch(page, 'GET', '/api/v1/me');
    expect(me.status).toBe(200);
    expect(me.body.user.email).toBe('bob@acme.test');
    expect(pwned()).toEqual([]);
  });
});
