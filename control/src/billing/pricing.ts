import type { PriceMap } from '../db/schema.ts';
import { mulDivRound, parseDecimal } from './decimal.ts';

/** Amounts and prices carry 6 decimals; usage is counted in milliseconds. */
export const AMOUNT_SCALE = 6;
export const SECONDS_SCALE = 3;
const MS_PER_HOUR = 3_600_000n;

/** ISO 4217's code for "no currency": usage priced by no rate card at all. */
export const NO_CURRENCY = 'XXX';

export interface RateCardLike {
  id: string;
  tenantId: string | null;
  currency: string;
  effectiveFrom: Date;
  sessionHour: string;
  appSessionHour: PriceMap;
  classSessionHour: PriceMap;
  gpuHour: PriceMap;
}

/**
 * The card in force at `at`: the tenant's latest override that took effect by then, else
 * the platform default's; null when neither has one yet.
 */
export function cardFor<C extends RateCardLike>(cards: C[], at: Date): C | null {
  const latest = (list: C[]) =>
    list
      .filter((c) => c.effectiveFrom <= at)
      .sort((a, b) => b.effectiveFrom.getTime() - a.effectiveFrom.getTime())[0] ?? null;
  return (
    latest(cards.filter((c) => c.tenantId !== null)) ?? latest(cards.filter((c) => !c.tenantId))
  );
}

export interface Use {
  appSlug: string;
  appClass: string | null;
  gpuSku: string | null;
  sessionMs: bigint;
  gpuMs: bigint;
}

/** The price of a session-hour of an app: its own, else its class's, else the card's. */
export function sessionHourPrice(card: RateCardLike, app: Pick<Use, 'appSlug' | 'appClass'>) {
  const own = Object.hasOwn(card.appSessionHour, app.appSlug)
    ? card.appSessionHour[app.appSlug]
    : undefined;
  const byClass =
    app.appClass !== null && Object.hasOwn(card.classSessionHour, app.appClass)
      ? card.classSessionHour[app.appClass]
      : undefined;
  return own ?? byClass ?? card.sessionHour;
}

/**
 * What `sessionMs` of an app and `gpuMs` of a SKU cost on `card`, in millionths of its
 * currency, rounded once (half away from zero) so that records add up exactly.
 */
export function amountOf(card: RateCardLike | null, use: Use): bigint {
  if (!card) return 0n;
  const sessionPrice = parseDecimal(sessionHourPrice(card, use), 6);
  const gpuPrice =
    use.gpuSku && Object.hasOwn(card.gpuHour, use.gpuSku)
      ? parseDecimal(card.gpuHour[use.gpuSku] ?? '0', 6)
      : 0n;
  return mulDivRound(use.sessionMs * sessionPrice + use.gpuMs * gpuPrice, 1n, MS_PER_HOUR);
}
