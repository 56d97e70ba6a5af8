/** Usage: session time and GPU time in a period, per user and per app. */
import { api, tenantPath } from '../api.ts';
import { empty, errorText, field, h, input, loading, row, select, table } from '../dom.ts';
import { formatHours } from '../format.ts';
import type { Usage } from '../types.ts';
import { aggregateUsage, PERIODS, type PeriodKind, periodRange, type UsageLine } from '../usage.ts';
import type { SectionCtx } from './shell.ts';

export function usageSection(el: HTMLElement, ctx: SectionCtx) {
  const slug = ctx.tenant!.slug;
  const period = select(
    'period',
    [...PERIODS.map((p): [string, string] => [p.kind, p.label]), ['custom', 'Custom dates']],
    'this-month',
  );
  const from = input('from', { type: 'date', required: true });
  const to = input('to', { type: 'date', required: true });
  // the dates only for a custom period
  const dates = [field('From', from), field('To (inclusive)', to)];
  for (const d of dates) d.hidden = true;
  const controls = h(
    'form',
    { class: 'inline-form', 'aria-label': 'Usage period' },
    field('Period', period),
    ...dates,
    h('button', { type: 'submit' }, 'Show'),
  );
  const out = h('div', { class: 'usage', 'aria-live': 'polite' });
  el.append(controls, out);

  const range = (): { from: string; to: string } | null => {
    if (period.value !== 'custom') return periodRange(period.value as PeriodKind, new Date());
    if (!from.value || !to.value) return null;
    const end = new Date(`${to.value}T00:00:00Z`);
    end.setUTCDate(end.getUTCDate() + 1);
    return { from: new Date(`${from.value}T00:00:00Z`).toISOString(), to: end.toISOString() };
  };

  const lines = (caption: string, first: string, items: UsageLine[]) =>
    table(
      caption,
      [first, 'Sessions', 'Session time', 'GPU time', 'GPU types'],
      items.map((l) =>
        row(
          l.detail ? [h('div', {}, l.label), h('div', { class: 'muted' }, l.detail)] : l.label,
          String(l.sessions),
          formatHours(l.sessionSeconds),
          formatHours(l.gpuSeconds),
          l.gpuSkus.map((s) => s.toUpperCase()).join(', ') || '—',
        ),
      ),
    );

  async function load() {
    const r = range();
    if (!r) {
      out.replaceChildren(empty('Choose both dates.'));
      return;
    }
    out.replaceChildren(loading('usage'));
    try {
      const usage = await api.get<Usage>(tenantPath(slug, '/usage'), r);
      const when = `${usage.from.slice(0, 10)} to ${usage.to.slice(0, 16).replace('T', ' ')} UTC`;
      out.replaceChildren(
        h(
          'p',
          { class: 'totals' },
          h('strong', {}, formatHours(usage.totals.sessionSeconds)),
          ' of session time and ',
          h('strong', {}, formatHours(usage.totals.gpuSeconds)),
          ` of GPU time, ${when}.`,
        ),
        ...(usage.items.length === 0
          ? [empty('No sessions in this period.')]
          : [
              h('h2', {}, 'Per user'),
              lines('Usage per user', 'User', aggregateUsage(usage.items, 'user')),
              h('h2', {}, 'Per app'),
              lines('Usage per app', 'App', aggregateUsage(usage.items, 'app')),
            ]),
      );
    } catch (err) {
      out.replaceChildren(h('p', { class: 'notice error', role: 'alert' }, errorText(err)));
    }
  }

  period.addEventListener('change', () => {
    const custom = period.value === 'custom';
    for (const d of dates) d.hidden = !custom;
    if (custom) from.focus();
    else load();
  });
  controls.addEventListener('submit', (event) => {
    event.preventDefault();
    load();
  });
  load();
  return undefined;
}
