// The streamer's last input, for idle shutdown: GET http://<pod IP>:8080/healthz answers
// `{"lastInputAt": "<ISO time>" | null, ...}` (streamer/src/streamer.ts). Asked at most once
// per interval per session; an unreachable streamer is "unknown", which never counts as idle.
// `fresh` skips that cache: the reconciler asks again before it stops a session for idleness,
// so that an "I'm still here" pressed during the warning's countdown (which resets the
// streamer's clock) is seen even when the cached answer predates it.

import type { Pod } from '@floe/kube/resources';
import { STREAMER_PORT } from './desired.ts';
import { type DecideInput, type Decision, decide } from './status.ts';

export type LastInput = Date | null | undefined;

export function createIdleProbe(opts: { intervalMs: number; timeoutMs?: number; port?: number }) {
  const seen = new Map<string, { atMs: number; value: LastInput }>();
  const port = opts.port ?? STREAMER_PORT;
  const probe = async (key: string, pod: Pod, how?: { fresh?: boolean }): Promise<LastInput> => {
    const cached = seen.get(key);
    if (cached && !how?.fresh && Date.now() - cached.atMs < opts.intervalMs) return cached.value;
    const value = pod.status?.podIP
      ? await ask(pod.status.podIP, port, opts.timeoutMs ?? 2000)
      : undefined;
    seen.set(key, { atMs: Date.now(), value });
    return value;
  };
  return Object.assign(probe, { forget: (key: string) => seen.delete(key) });
}

/**
 * decide(), with one more look before an idle stop: the answer in `input` may come from the
 * probe's cache and predate an "I'm still here" pressed during the viewers' countdown, so an
 * IdleTimeout stands only on a fresh answer (`askFresh`).
 */
export async function decideWithFreshInput(
  input: DecideInput,
  askFresh: () => Promise<LastInput>,
): Promise<{ decision: Decision; input: DecideInput }> {
  const first = decide(input);
  if (first.status.reason !== 'IdleTimeout') return { decision: first, input };
  const fresh = { ...input, lastInputAt: await askFresh() };
  return { decision: decide(fresh), input: fresh };
}

/** PURE: the last input time out of a /healthz answer; undefined when it is not one. */
export function parseLastInput(body: unknown): LastInput {
  if (!body || typeof body !== 'object' || !('lastInputAt' in body)) return undefined;
  const v = (body as { lastInputAt: unknown }).lastInputAt;
  if (v === null) return null;
  if (typeof v !== 'string') return undefined;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

async function ask(ip: string, port: number, timeoutMs: number): Promise<LastInput> {
  const host = ip.includes(':') ? `[${ip}]` : ip;
  try {
    const res = await fetch(`http://${host}:${port}/healthz`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok) return undefined;
    return parseLastInput(await res.json());
  } catch {
    return undefined;
  }
}
