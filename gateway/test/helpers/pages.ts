// A real browser page signed in through a gateway, and calling it as the launcher does.
import type { launchChromium } from '@floe/testbed';
import { credentials, type UserName } from './users.ts';

type Browser = Awaited<ReturnType<typeof launchChromium>>;
export type Page = Awaited<ReturnType<Browser['newPage']>>;

/** Signs in at `base` through the gateway's organisation form and the provider's sign-in form. */
export async function signInByForms(page: Page, base: string, who: UserName) {
  const { email, password, tenant } = credentials(who);
  await page.goto(`${base}/`);
  await page.locator('input[name="tenant"]').fill(tenant);
  await page.locator('button[type="submit"]').click();
  await page.locator('input[name="login"]').fill(email);
  await page.locator('input[name="password"]').fill(password);
  await Promise.all([page.waitForURL(`${base}/`), page.locator('button[type="submit"]').click()]);
}

/** fetch() from the page, as the launcher does it (same origin, the CSRF token echoed). */
export function pageFetch(page: Page, method: string, path: string, body?: unknown) {
  return page.evaluate(
    async ({ method, path, body }) => {
      const csrf = document.cookie.match(/(?:^|; )floe_csrf=([^;]*)/)?.[1] ?? '';
      const res = await fetch(path, {
        method,
        headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: await res.json().catch(() => null) };
    },
    { method, path, body },
  );
}
