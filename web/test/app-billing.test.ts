/**
 * The console's Billing pages in real Chromium against the stand-in API, the stand-in's billing
 * shapes checked against the control plane's schemas, and the page's pure helpers as tables.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchChromium } from '@floe/testbed';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  PeriodList,
  PeriodSummary,
  PlatformPeriod,
} from '../../control/src/http/billing-schemas.ts';
import { buildApp } from '../build.ts';
import { dayBars, formatMoney } from '../src/app/billing.ts';
import type { BillingPeriod } from '../src/app/types.ts';
import { defaultData, monthLabel, type StandIn, startStandIn } from './stand-in-api.ts';

describe('billing helpers', () => {
  it.each([
    ['1234.565000', 'EUR', 'EUR 1,234.57'],
    ['0.004999', 'USD', 'USD 0.00'],
    ['0.005000', 'USD', 'USD 0.01'],
    ['-12.300000', 'EUR', '−EUR 12.30'],
    ['1000000.000000', 'XXX', '1,000,000.00'],
  ])('formatMoney(%s, %s) is %s', (amount, currency, shown) => {
    expect(formatMoney(amount, currency)).toBe(shown);
  });

  it('draws every day of the period, the busiest at 100 %', () => {
    const period = { label: '2026-02' } as BillingPeriod;
    const g = (key: string, hours: number) => ({
      key,
      records: 1,
      sessionSeconds: `${hours * 3600}.000`,
      gpuSeconds: '0.000',
      amount: '1.000000',
    });
    const bars = dayBars(period, [g('2026-02-03', 4), g('2026-02-10', 1)]);
    expect(bars).toHaveLength(28);
    expect(bars.filter((b) => b.percent > 0).map((b) => [b.day, b.percent])).toEqual([
      ['2026-02-03', 100],
      ['2026-02-10', 25],
    ]);
    expect(bars[0]).toEqual({ day: '2026-02-01', percent: 0, hours: 0, amount: '0.000000' });
    // a period that began before its month (a time zone change) keeps that day too
    expect(dayBars(period, [g('2026-01-31', 2)])[0]?.day).toBe('2026-01-31');
  });
});

describe('the stand-in’s billing', () => {
  it('answers in the control plane’s schemas', async () => {
    const standIn = await startStandIn('/nonexistent', { data: defaultData('platform-admin') });
    try {
      const get = (path: string) => fetch(`${standIn.url}/api/v1${path}`).then((r) => r.json());
      PeriodList.parse(await get('/tenants/acme/billing/periods'));
      PeriodSummary.parse(await get(`/tenants/acme/billing/periods/${monthLabel(1)}`));
      PlatformPeriod.parse(await get(`/billing/periods/${monthLabel(1)}`));
    } finally {
      await standIn.close();
    }
  });
});

describe('the Billing pages', () => {
  let outDir: string;
  let dir: string;
  let browser: Browser;
  let standIn: StandIn | undefined;

  beforeAll(async () => {
    outDir = mkdtempSync(join(tmpdir(), 'floe-web-billing-'));
    ({ dir } = await buildApp({ outDir }));
    browser = await launchChromium(['--headless=new']);
  });
  afterAll(async () => {
    await browser?.close();
    rmSync(outDir, { recursive: true, force: true });
  });
  afterEach(async () => {
    await standIn?.close();
    standIn = undefined;
  });

  async function openPage(url: string): Promise<{ page: Page; errors: string[] }> {
    const page = await browser.newPage({
      viewport: { width: 1280, height: 900 },
      acceptDownloads: true,
    });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) errors.push(m.text());
    });
    await page.goto(url);
    return { page, errors };
  }

  it('shows a tenant admin its periods, totals per user, app and GPU, a day chart and downloads', async () => {
    standIn = await startStandIn(dir, { data: defaultData('tenant-admin') });
    const last = monthLabel(1);
    const { page, errors } = await openPage(`${standIn.url}/console/billing`);
    const picker = page.getByLabel('Period', { exact: true });
    await picker.waitFor();
    expect(await picker.locator('option').allTextContents()).toEqual([
      `${monthLabel(0)} (open)`,
      last,
    ]);
    await page.getByText('No usage in this period.').waitFor();
    await picker.selectOption(last);
    await page.getByRole('heading', { name: 'Per user' }).waitFor();
    const totals = await page.locator('.totals').textContent();
    expect(totals).toContain('EUR 1,234.57 for 7.5 h of session time and 5.0 h of GPU time');
    expect(totals).toContain('Closed: final');
    const perUser = page.getByRole('table', { name: 'Billing per user' });
    expect(await perUser.locator('tbody tr').first().textContent()).toContain('EUR 1,000.00');
    expect(await page.getByRole('table', { name: 'Billing per GPU type' }).textContent()).toContain(
      'l4',
    );
    // a bar per day of the month; the busiest day full height
    const days = page.locator('.day-chart li');
    expect(await days.count()).toBeGreaterThanOrEqual(28);
    const busiest = page.locator(`.day-chart li[data-day="${last}-03"] .bar`);
    expect(await busiest.getAttribute('style')).toBe('height: 100%');
    expect(
      await page.locator(`.day-chart li[data-day="${last}-17"] .bar`).getAttribute('style'),
    ).toBe('height: 50%');
    // the downloads are links to the export, which the browser saves as a file
    const parquet = page.locator('.downloads a[data-format="parquet"]');
    expect(await parquet.getAttribute('href')).toBe(
      `/api/v1/tenants/acme/billing/export?period=${last}&format=parquet`,
    );
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('.downloads a[data-format="csv"]').click(),
    ]);
    expect(download.suggestedFilename()).toBe(`floe-usage-acme-${last}.csv`);
    const exported = standIn.requests.find((r) => r.path === '/tenants/acme/billing/export');
    expect(exported?.query.get('format')).toBe('csv');
    // tenant admins have no platform view
    expect(await page.getByRole('link', { name: 'Billing (all tenants)' }).count()).toBe(0);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('shows a platform admin every tenant’s period of a month', async () => {
    standIn = await startStandIn(dir, { data: defaultData('platform-admin') });
    const { page, errors } = await openPage(`${standIn.url}/console/billing-all`);
    const tenants = page.getByRole('table', { name: `Billing per tenant, ${monthLabel(1)}` });
    await tenants.waitFor();
    const rows = await tenants.locator('tbody tr').allTextContents();
    expect(rows).toHaveLength(2);
    expect(rows[0]).toContain('acme');
    expect(rows[0]).toContain('EUR 1,234.57');
    expect(rows[1]).toContain('globex');
    expect(await page.locator('.downloads a[data-format="jsonl"]').getAttribute('href')).toBe(
      `/api/v1/billing/export?period=${monthLabel(1)}&format=jsonl`,
    );
    await page.getByLabel('Month', { exact: true }).selectOption(monthLabel(0));
    await tenants.waitFor({ state: 'detached' }).catch(() => {});
    await page.getByRole('table', { name: `Billing per tenant, ${monthLabel(0)}` }).waitFor();
    expect(errors).toEqual([]);
    await page.close();
  });
});
