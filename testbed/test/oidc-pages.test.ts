// The development identity provider's pages in real Chromium (what `npm start` shows at
// sign-in): Floe's look, a title, labelled inputs, the demo users, a wrong password said, the
// sign-out pages styled too, and nothing fetched from anywhere else.
import * as client from 'openid-client';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../src/chromium.ts';
import { type OidcProvider, startOidcProvider } from '../src/oidc.ts';

const REDIRECT = 'http://127.0.0.1/callback';

describe('the development identity provider’s pages', () => {
  let op: OidcProvider;
  let browser: Browser;

  beforeAll(async () => {
    op = await startOidcProvider();
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await op?.stop();
  });

  async function authorizationUrl() {
    const url = new URL('/auth', op.issuer);
    url.search = new URLSearchParams({
      client_id: op.clients[0]!.clientId,
      redirect_uri: REDIRECT,
      response_type: 'code',
      scope: 'openid email profile',
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
      state: client.randomState(),
    }).toString();
    return url.href;
  }

  it('signs in from a styled page with labelled inputs and the demo users', async () => {
    const page = await browser.newPage();
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    // the client's callback: stop there
    await page.route(`${REDIRECT}**`, (route) => route.fulfill({ body: 'back at the client' }));

    await page.goto(await authorizationUrl());
    await page.waitForURL(/\/interaction\//);
    expect(await page.title()).toBe('Sign in — Floe development sign-in');
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Sign in');
    // Floe's palette (web/src/app/app.css), not the browser's defaults
    const style = (selector: string, property: string) =>
      page
        .locator(selector)
        .first()
        .evaluate((el, p) => getComputedStyle(el).getPropertyValue(p), property);
    expect(await style('body', 'background-color')).toBe('rgb(13, 15, 18)');
    expect(await style('button.primary', 'background-color')).toBe('rgb(90, 169, 255)');
    expect(await style('main', 'border-radius')).toBe('10px');

    const demo = page.getByRole('region', { name: 'Demo users' });
    for (const u of op.users) {
      expect(await demo.textContent()).toContain(u.email);
      expect(await demo.textContent()).toContain(u.password);
    }
    expect(await demo.textContent()).toContain('tenant admin');

    // a wrong password is said beside the form, which keeps the email
    await page.getByLabel('Email').fill('alice@acme.test');
    await page.getByLabel('Password').fill('not-it');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toBe('Wrong email or password.');
    expect(await page.getByLabel('Email').inputValue()).toBe('alice@acme.test');

    // the page's only form, and one press signs in as a demo user
    expect(await page.locator('form').count()).toBe(1);
    expect(await page.locator('input[name="login"]').count()).toBe(1);
    await page.getByRole('link', { name: 'Continue as bob@acme.test' }).click();
    await page.waitForURL(new RegExp(`^${REDIRECT}\\?code=`));

    // sign-out asks, in the same look, then says it is done
    await page.goto(new URL('/session/end', op.issuer).href);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Sign out?');
    expect(await style('body', 'background-color')).toBe('rgb(13, 15, 18)');
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.getByRole('heading', { name: 'Signed out' }).waitFor();

    // self-contained: no fonts or scripts from elsewhere
    const elsewhere = requests.filter((u) => !u.startsWith(op.issuer) && !u.startsWith(REDIRECT));
    expect(elsewhere).toEqual([]);
    await page.close();
  });
});
