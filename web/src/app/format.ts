/** Small formatting decisions of the pages, pure so they are tested without a browser. */
import type { Gpus } from './types.ts';

/** "1× L4", "2× A100-80GB"; null when the app needs no GPU. */
export function gpuBadge(gpus: Gpus | null | undefined): string | null {
  if (!gpus || gpus.count <= 0) return null;
  return `${gpus.count}× ${gpus.sku.toUpperCase()}`;
}

/** Up to two letters standing in for a missing icon: "Visual Studio Code" → "VS", "xterm" → "Xt". */
export function initials(name: string): string {
  const words = name.split(/[\s_\-./]+/).filter((w) => /[\p{L}\p{N}]/u.test(w));
  if (words.length === 0) return '?';
  if (words.length === 1) {
    const chars = [...words[0]!];
    return (chars[0]!.toUpperCase() + (chars[1] ?? '')).trim();
  }
  return words
    .slice(0, 2)
    .map((w) => [...w][0]!.toUpperCase())
    .join('');
}

/**
 * An app icon the page may show: an http(s) URL, a same-origin path or a data: image. Anything
 * else (javascript:, data:text/html…) is dropped and the tile shows initials instead.
 */
export function safeIcon(icon: string | null | undefined): string | null {
  const v = icon?.trim();
  if (!v) return null;
  if (/^data:image\/(png|jpeg|gif|webp|svg\+xml|avif)[;,]/i.test(v)) return v;
  if (/^https?:\/\/[^\s]+$/i.test(v)) return v;
  if (/^\/(?![/\\])[^\s]*$/.test(v)) return v;
  return null;
}

/** "45 s", "12 min", "3 h 05 min", "2 d 4 h": a duration read at a glance. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${String(minutes % 60).padStart(2, '0')} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/** Seconds as hours with one decimal, for usage: "0 h", "< 0.1 h", "12.5 h", "1,234.0 h". */
export function formatHours(seconds: number): string {
  if (seconds <= 0) return '0 h';
  const hours = seconds / 3600;
  if (hours < 0.05) return '< 0.1 h';
  return `${hours.toLocaleString('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 })} h`;
}

/** How long ago `iso` was, from `now`: "just now", "5 min ago", "3 h ago", "2 d ago". */
export function formatAgo(iso: string, now: number): string {
  const seconds = Math.round((now - Date.parse(iso)) / 1000);
  if (!Number.isFinite(seconds)) return '';
  if (seconds < 45) return 'just now';
  if (seconds < 3600) return `${Math.max(1, Math.round(seconds / 60))} min ago`;
  if (seconds < 48 * 3600) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86_400)} d ago`;
}

/** A date as YYYY-MM-DD (UTC), or an em dash for none. */
export function formatDate(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '—' : d.toISOString().slice(0, 10);
}

/** What a limit counts, singular and plural: "1 session", "3 sessions". */
export type Unit = readonly [one: string, many: string];

export const UNITS = {
  sessions: ['session', 'sessions'],
  gpus: ['GPU', 'GPUs'],
  gpuHours: ['GPU-hour', 'GPU-hours'],
} as const satisfies Record<string, Unit>;

/** "1 session", "3 sessions", "12.3 GPU-hours", "12,000 GPUs". */
export function formatCount(n: number, [one, many]: Unit): string {
  const text = Number.isInteger(n) ? n.toLocaleString('en-US') : n.toFixed(1);
  return `${text} ${n === 1 ? one : many}`;
}

/**
 * A quota or limit as the API defines it: null is "no limit"; any number, 0 included, is a
 * limit ("0 sessions": none may run).
 */
export function formatLimit(limit: number | null | undefined, unit: Unit): string {
  return limit == null ? 'no limit' : formatCount(limit, unit);
}

/** Use against a limit: "3 of 10 sessions"; "3 sessions" when there is no limit. */
export function formatUse(used: number, limit: number | null | undefined, unit: Unit): string {
  if (limit == null) return formatCount(used, unit);
  const u = Number.isInteger(used) ? used.toLocaleString('en-US') : used.toFixed(1);
  return `${u} of ${formatCount(limit, unit)}`;
}

/** A user's role in words. */
export function roleLabel(role: string): string {
  switch (role) {
    case 'platform-admin':
      return 'Platform admin';
    case 'tenant-admin':
      return 'Admin';
    case 'member':
      return 'Member';
    default:
      return role;
  }
}
