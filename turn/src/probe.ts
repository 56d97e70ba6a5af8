// Health probe: a real allocation, not a port check. It proves the server answers, knows
// the shared secret and has relay ports left, which is what a client needs from it.
import { TurnClient } from './client.ts';
import { parseTurnUrl } from './turn-url.ts';

export type ProbeResult = { ok: true; rttMs: number } | { ok: false; error: string };

export interface ProbeOptions {
  /** turn:host:port?transport=udp|tcp, or turns:host:port */
  url: string;
  username: string;
  credential: string;
  /** for the whole probe: connect, challenge, allocate, release */
  timeoutMs?: number;
  /** aborts the probe early (e.g. on shutdown) */
  signal?: AbortSignal;
  /** for turns: with a private CA, its PEM certificate */
  ca?: string;
}

export const DEFAULT_PROBE_TIMEOUT_MS = 5_000;

/**
 * Allocates (401 challenge, then the credential) and releases. `rttMs` is the round trip of
 * the challenge, which involves no credential check and so measures the network. Never
 * throws for an unhealthy server; throws only for a malformed URL (a caller's mistake).
 */
export async function probeTurnServer(opts: ProbeOptions): Promise<ProbeResult> {
  parseTurnUrl(opts.url);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  const deadline = AbortSignal.timeout(timeoutMs);
  const signal = opts.signal ? AbortSignal.any([deadline, opts.signal]) : deadline;
  let client: TurnClient | undefined;
  try {
    client = await TurnClient.connect({ ...opts, signal });
    const allocation = await client.allocate();
    await client.release();
    return { ok: true, rttMs: Math.round(allocation.challengeRttMs * 100) / 100 };
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    return { ok: false, error: deadline.aborted ? `${error}; limit ${timeoutMs} ms` : error };
  } finally {
    client?.close();
  }
}
