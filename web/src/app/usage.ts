/** Usage rows (per user × app × GPU SKU) folded per user or per app, and the usage periods. */
import type { Session, UsageRow } from './types.ts';

export interface UsageLine {
  /** The user's or app's id. */
  key: string;
  /** The user's email or the app's display name (its slug for a row from before names). */
  label: string;
  /** The app's slug beside its name; null for users. */
  detail: string | null;
  sessions: number;
  sessionSeconds: number;
  gpuSeconds: number;
  /** GPU SKUs used, sorted. */
  gpuSkus: string[];
}

/** One line per user or per app, the heaviest GPU users first, then by session time and name. */
export function aggregateUsage(rows: readonly UsageRow[], by: 'user' | 'app'): UsageLine[] {
  const lines = new Map<string, UsageLine & { skus: Set<string> }>();
  for (const row of rows) {
    const key = by === 'user' ? row.userId : row.appId;
    const label = (by === 'user' ? row.email : row.appName || row.app) || '(removed)';
    const detail = by === 'app' && row.app && row.appName ? row.app : null;
    let line = lines.get(key);
    if (!line) {
      line = {
        key,
        label,
        detail,
        sessions: 0,
        sessionSeconds: 0,
        gpuSeconds: 0,
        gpuSkus: [],
        skus: new Set(),
      };
      lines.set(key, line);
    }
    line.sessions += row.sessions;
    line.sessionSeconds += row.sessionSeconds;
    line.gpuSeconds += row.gpuSeconds;
    if (row.gpuSku) line.skus.add(row.gpuSku);
  }
  return [...lines.values()]
    .map(({ skus, ...line }) => ({ ...line, gpuSkus: [...skus].sort() }))
    .sort(
      (a, b) =>
        b.gpuSeconds - a.gpuSeconds ||
        b.sessionSeconds - a.sessionSeconds ||
        a.label.localeCompare(b.label),
    );
}

export type PeriodKind = 'this-month' | 'last-month' | 'last-7-days' | 'last-30-days';

export const PERIODS: { kind: PeriodKind; label: string }[] = [
  { kind: 'this-month', label: 'This month' },
  { kind: 'last-month', label: 'Last month' },
  { kind: 'last-7-days', label: 'Last 7 days' },
  { kind: 'last-30-days', label: 'Last 30 days' },
];

/** The from/to (ISO, UTC) of a usage period as of `now`. */
export function periodRange(kind: PeriodKind, now: Date): { from: string; to: string } {
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth();
  const day = 86_400_000;
  switch (kind) {
    case 'this-month':
      return { from: new Date(Date.UTC(y, m, 1)).toISOString(), to: now.toISOString() };
    case 'last-month':
      return {
        from: new Date(Date.UTC(y, m - 1, 1)).toISOString(),
        to: new Date(Date.UTC(y, m, 1)).toISOString(),
      };
    case 'last-7-days':
      return { from: new Date(now.getTime() - 7 * day).toISOString(), to: now.toISOString() };
    case 'last-30-days':
      return { from: new Date(now.getTime() - 30 * day).toISOString(), to: now.toISOString() };
  }
}

/** GPU-seconds in use of a month's GPU-hour quota, as hours (for the quota page). */
export const gpuHours = (gpuSeconds: number): number => gpuSeconds / 3600;

/** Sessions and GPUs held by the active sessions of a list (for the quota page). */
export function inUse(sessions: readonly Pick<Session, 'gpus'>[]): {
  sessions: number;
  gpus: number;
} {
  return {
    sessions: sessions.length,
    gpus: sessions.reduce((n, s) => n + (s.gpus?.count ?? 0), 0),
  };
}
