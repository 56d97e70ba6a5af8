/**
 * Billing: a tenant's periods (the period picker), its totals per user, app and GPU SKU, a bar
 * per day, and the downloads of its usage records. `billingAllSection` is the platform view:
 * every tenant's period of one month.
 */
import { api, apiUrl, tenantPath } from '../api.ts';
import { dayBars, formatMoney, formatSecondsAsHours } from '../billing.ts';
import { empty, errorText, field, h, loading, row, select, table } from '../dom.ts';
import type { BillingGroup, BillingPeriod, BillingSummary } from '../types.ts';
import type { SectionCtx } from './shell.ts';

const FORMATS = [
  ['csv', 'CSV'],
  ['parquet', 'Parquet'],
  ['jsonl', 'JSON Lines'],
] as const;

const failure = (err: unknown) => h('p', { class: 'notice error', role: 'alert' }, errorText(err));

function groups(caption: string, first: string, items: BillingGroup[], currency: string) {
  return table(
    caption,
    [first, 'Records', 'Session time', 'GPU time', 'Amount'],
    items.map((g) =>
      row(
        g.key || '—',
        String(g.records),
        formatSecondsAsHours(g.sessionSeconds),
        formatSecondsAsHours(g.gpuSeconds),
        formatMoney(g.amount, currency),
      ),
    ),
  );
}

/** A bar per day of the period, in plain HTML and CSS: no chart library. */
function dayChart(summary: BillingSummary) {
  const bars = dayBars(summary.period, summary.byDay);
  return h(
    'figure',
    { class: 'day-chart' },
    h(
      'ol',
      { 'aria-label': 'Session hours per day' },
      bars.map((b) =>
        h(
          'li',
          {
            'data-day': b.day,
            title: `${b.day}: ${b.hours.toFixed(1)} h, ${formatMoney(b.amount, summary.period.totals.currency)}`,
          },
          h('span', { class: 'bar', style: `height: ${b.percent}%` }),
          h('span', { class: 'visually-hidden' }, `${b.day}: ${b.hours.toFixed(1)} h`),
        ),
      ),
    ),
    h('figcaption', {}, 'Session hours per day (by the day a session’s time in the period began)'),
  );
}

function downloads(slug: string, period: BillingPeriod) {
  return h(
    'p',
    { class: 'downloads' },
    'Download the usage records: ',
    FORMATS.map(([format, label]) =>
      h(
        'a',
        {
          class: 'button',
          href: apiUrl(tenantPath(slug, '/billing/export'), { period: period.label, format }),
          download: `floe-usage-${slug}-${period.label}.${format}`,
          'data-format': format,
        },
        label,
      ),
    ),
  );
}

export function billingSection(el: HTMLElement, ctx: SectionCtx) {
  const slug = ctx.tenant!.slug;
  const out = h('div', { class: 'billing', 'aria-live': 'polite' });
  el.append(out);
  out.replaceChildren(loading('billing periods'));
  let disposed = false;

  async function show(period: BillingPeriod, body: HTMLElement) {
    body.replaceChildren(loading(`period ${period.label}`));
    try {
      const s = await api.get<BillingSummary>(tenantPath(slug, `/billing/periods/${period.label}`));
      if (disposed) return;
      const { totals } = s.period;
      body.replaceChildren(
        h(
          'p',
          { class: 'totals' },
          h('strong', {}, formatMoney(totals.amount, totals.currency)),
          ' for ',
          h('strong', {}, formatSecondsAsHours(totals.sessionSeconds)),
          ' of session time and ',
          h('strong', {}, formatSecondsAsHours(totals.gpuSeconds)),
          ` of GPU time, ${s.period.start.slice(0, 10)} to ${s.period.end.slice(0, 10)} (${s.period.timeZone}). `,
          s.period.state === 'closed'
            ? h('span', { class: 'badge' }, 'Closed: final')
            : h('span', { class: 'badge open' }, 'Open: up to now'),
        ),
        downloads(slug, s.period),
        ...(totals.records === 0
          ? [empty('No usage in this period.')]
          : [
              dayChart(s),
              h('h2', {}, 'Per user'),
              groups('Billing per user', 'User', s.byUser, totals.currency),
              h('h2', {}, 'Per app'),
              groups('Billing per app', 'App', s.byApp, totals.currency),
              h('h2', {}, 'Per GPU type'),
              groups('Billing per GPU type', 'GPU', s.bySku, totals.currency),
            ]),
      );
    } catch (err) {
      body.replaceChildren(failure(err));
    }
  }

  api
    .get<{ items: BillingPeriod[] }>(tenantPath(slug, '/billing/periods'))
    .then(({ items }) => {
      if (disposed) return;
      if (items.length === 0) {
        out.replaceChildren(empty('No billing periods yet.'));
        return;
      }
      const picker = select(
        'period',
        items.map((p): [string, string] => [
          p.label,
          `${p.label}${p.state === 'open' ? ' (open)' : ''}`,
        ]),
        (items[0] as BillingPeriod).label,
      );
      const body = h('div', {});
      out.replaceChildren(
        h(
          'form',
          { class: 'inline-form', 'aria-label': 'Billing period' },
          field('Period', picker),
        ),
        body,
      );
      const chosen = () => items.find((p) => p.label === picker.value) as BillingPeriod;
      picker.addEventListener('change', () => show(chosen(), body));
      show(chosen(), body);
    })
    .catch((err) => out.replaceChildren(failure(err)));
  return {
    dispose() {
      disposed = true;
    },
  };
}

/** `YYYY-MM` of this month and the eleven before it, newest first. */
function recentMonths(now = new Date()): string[] {
  const months: string[] = [];
  for (let i = 0; i < 12; i++) {
    const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - i, 1));
    months.push(`${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`);
  }
  return months;
}

export function billingAllSection(el: HTMLElement, _ctx: SectionCtx) {
  const months = recentMonths();
  const picker = select(
    'month',
    months.map((m): [string, string] => [m, m]),
    months[1] ?? (months[0] as string),
  );
  const out = h('div', { 'aria-live': 'polite' });
  el.append(
    h('form', { class: 'inline-form', 'aria-label': 'Billing month' }, field('Month', picker)),
    out,
  );
  let disposed = false;
  async function load() {
    const label = picker.value;
    out.replaceChildren(loading(`billing for ${label}`));
    try {
      const { items } = await api.get<{ items: BillingPeriod[] }>(`/billing/periods/${label}`);
      if (disposed) return;
      out.replaceChildren(
        h(
          'p',
          { class: 'downloads' },
          'Download every tenant’s usage records: ',
          FORMATS.map(([format, text]) =>
            h(
              'a',
              {
                class: 'button',
                href: apiUrl('/billing/export', { period: label, format }),
                download: `floe-usage-all-${label}.${format}`,
                'data-format': format,
              },
              text,
            ),
          ),
        ),
        items.length === 0
          ? empty(`No tenant has a billing period ${label}.`)
          : table(
              `Billing per tenant, ${label}`,
              ['Tenant', 'State', 'Records', 'Session time', 'GPU time', 'Amount'],
              items.map((p) =>
                row(
                  p.tenant,
                  p.state === 'closed' ? 'Closed' : 'Open',
                  String(p.totals.records),
                  formatSecondsAsHours(p.totals.sessionSeconds),
                  formatSecondsAsHours(p.totals.gpuSeconds),
                  formatMoney(p.totals.amount, p.totals.currency),
                ),
              ),
            ),
      );
    } catch (err) {
      out.replaceChildren(failure(err));
    }
  }
  picker.addEventListener('change', load);
  load();
  return {
    dispose() {
      disposed = true;
    },
  };
}
