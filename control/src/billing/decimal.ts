/**
 * Exact decimal money and quantities as scaled integers (bigint): `"1.25"` at scale 6 is
 * 1_250_000n. Binary floats never touch an amount.
 */

const DECIMAL = /^(-)?(\d+)(?:\.(\d+))?$/;

/** `"12.5"` at scale 3 → 12_500n; more fraction digits than `scale` is an error. */
export function parseDecimal(text: string, scale: number): bigint {
  const m = DECIMAL.exec(text);
  if (!m) throw new Error(`not a decimal number: ${JSON.stringify(text)}`);
  const [, minus, whole = '0', frac = ''] = m;
  if (frac.length > scale) throw new Error(`${text} has more than ${scale} decimals`);
  const value = BigInt(whole + frac.padEnd(scale, '0'));
  return minus ? -value : value;
}

/** 12_500n at scale 3 → `"12.500"` (always `scale` decimals). */
export function formatDecimal(value: bigint, scale: number): string {
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(scale + 1, '0');
  const whole = digits.slice(0, digits.length - scale);
  const frac = digits.slice(digits.length - scale);
  return `${negative ? '-' : ''}${whole}${scale > 0 ? `.${frac}` : ''}`;
}

/** a × b / d, rounded half away from zero (d > 0). */
export function mulDivRound(a: bigint, b: bigint, d: bigint): bigint {
  const n = a * b;
  const q = n / d;
  const r = n % d;
  if (2n * (r < 0n ? -r : r) >= d) return n < 0n ? q - 1n : q + 1n;
  return q;
}
