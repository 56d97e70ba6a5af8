/**
 * The warning before a session is shut down, as the page shows it. Two clocks lead to a stop:
 * the idle clock, which the streamer keeps (it says when the warning starts and how many
 * seconds are left; "I'm still here" or any input resets it), and the maximum lifetime, which
 * the control plane keeps (the gateway's `state` answer says how much is left; nothing
 * extends it). Pure: the banner (warning-banner.ts) calls these with the page's clock.
 */
import { warningLead } from '@floe/streamer/idle-warning';

/** The lead before a lifetime stop until the streamer says its setting: its default. */
export const DEFAULT_LEAD_SECONDS = 60;

export interface WarningClocks {
  /** page-clock ms of the idle stop the streamer warns of; null: no idle warning */
  idleStopAtMs: number | null;
  /** the session's maximum lifetime (null: none) and when, on the page's clock, it ends */
  lifetime: { seconds: number; endsAtMs: number } | null;
  /** the warning lead setting (the streamer's idle notice carries it) */
  leadSeconds: number;
}

export type WarningView =
  | { show: false }
  | {
      show: true;
      cause: 'idle' | 'lifetime';
      secondsLeft: number;
      /** what the banner says */
      text: string;
      /** "I'm still here" helps: an idle stop only */
      canReset: boolean;
    };

/** m:ss, for a countdown. */
export function clockText(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** What the banner shows now: the sooner of the two stops, once it is within its lead. */
export function warningView(clocks: WarningClocks, nowMs: number): WarningView {
  const idle = clocks.idleStopAtMs === null ? null : Math.max(0, clocks.idleStopAtMs - nowMs);
  let life: number | null = null;
  if (clocks.lifetime) {
    const left = Math.max(0, clocks.lifetime.endsAtMs - nowMs);
    const lead = warningLead(clocks.lifetime.seconds, clocks.leadSeconds) * 1000;
    if (lead > 0 && left <= lead) life = left;
  }
  if (idle === null && life === null) return { show: false };
  if (life !== null && (idle === null || life <= idle)) {
    const secondsLeft = Math.ceil(life / 1000);
    return {
      show: true,
      cause: 'lifetime',
      secondsLeft,
      text:
        secondsLeft > 0
          ? `This session reaches its maximum lifetime and shuts down in ${clockText(secondsLeft)}. It cannot be extended: save your work.`
          : 'This session reached its maximum lifetime and is shutting down.',
      canReset: false,
    };
  }
  const secondsLeft = Math.ceil((idle ?? 0) / 1000);
  return {
    show: true,
    cause: 'idle',
    secondsLeft,
    text:
      secondsLeft > 0
        ? `Nobody has used this session for a while: it shuts down in ${clockText(secondsLeft)}.`
        : 'Nobody has used this session for a while: it is shutting down.',
    canReset: true,
  };
}

/**
 * The lifetime out of the gateway's `state` answer, placed on the page's clock (the gateway
 * says seconds left, so the two machines' clocks need not agree); null when it has none.
 */
export function lifetimeOf(
  body: unknown,
  nowMs: number,
): { seconds: number; endsAtMs: number } | null {
  if (typeof body !== 'object' || body === null || !('lifetime' in body)) return null;
  const lifetime = (body as { lifetime: unknown }).lifetime;
  if (typeof lifetime !== 'object' || lifetime === null) return null;
  const { seconds, leftSeconds } = lifetime as { seconds?: unknown; leftSeconds?: unknown };
  if (typeof seconds !== 'number' || typeof leftSeconds !== 'number') return null;
  if (!Number.isFinite(seconds) || !Number.isFinite(leftSeconds) || seconds <= 0) return null;
  return { seconds, endsAtMs: nowMs + Math.max(0, leftSeconds) * 1000 };
}
