/** What the Billing page shows, decided without the DOM: the days of the chart, money. */
import type { BillingGroup, BillingPeriod } from './types.ts';

export interface DayBar {
  day: string;
  /** 0–100, relative to the busiest day */
  percent: number;
  hours: number;
  amount: string;
}

/** Every day of the period (in its time zone), quiet days included, with its share of the busiest. */
export function dayBars(period: BillingPeriod, byDay: BillingGroup[]): DayBar[] {
  const found = new Map(byDay.map((d) => [d.key, d]));
  const days: string[] = [];
  const [y, m] = period.label.split('-').map(Number) as [number, number];
  const count = new Date(Date.UTC(y, m, 0)).getUTCDate();
  for (let d = 1; d <= count; d++) days.push(`${period.label}-${String(d).padStart(2, '0')}`);
  // a period made when the time zone changed can start a few hours before its month
  for (const key of found.keys()) if (!days.includes(key)) days.push(key);
  days.sort();
  // heights only: relative bar sizes may use floats; amounts stay the API's strings
  const hours = (g: BillingGroup | undefined) => (g ? Number(g.sessionSeconds) / 3600 : 0);
  const max = Math.max(0, ...days.map((d) => hours(found.get(d))));
  return days.map((day) => {
    const g = found.get(day);
    return {
      day,
      hours: hours(g),
      percent: max > 0 ? Math.round((hours(g) / max) * 100) : 0,
      amount: g?.amount ?? '0.000000',
    };
  });
}

/** `"1234.500000"`, `"EUR"` → `"EUR 1,234.50"`: cents shown, the exact figure in the export. */
export function formatMoney(amount: string, currency: string): string {
  const negative = amount.startsWith('-');
  const [whole = '0', frac = ''] = amount.replace('-', '').split('.');
  // rounded half up to cents on the digits, never through a float
  let cents = BigInt(whole + `${frac}00`.slice(0, 2));
  if (Number(frac[2] ?? '0') >= 5) cents += 1n;
  const w = (cents / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const c = (cents % 100n).toString().padStart(2, '0');
  const code = currency === 'XXX' ? '' : `${currency} `;
  return `${negative && cents > 0n ? '−' : ''}${code}${w}.${c}`;
}

/** `"5400.000"` seconds → `"1.5 h"`. */
export function formatSecondsAsHours(seconds: string): string {
  return `${(Number(seconds) / 3600).toFixed(1)} h`;
}
