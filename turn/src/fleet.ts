// Health of the TURN fleet: every server probed with a real allocation on an interval, and
// the decision which ones to offer a client. The decisions are pure functions; TurnFleet
// only runs the probes and keeps the latest state.
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { mintTurnCredentials } from './credentials.ts';
import {
  DEFAULT_PROBE_TIMEOUT_MS,
  type ProbeOptions,
  type ProbeResult,
  probeTurnServer,
} from './probe.ts';
import { settingsError } from './settings-error.ts';
import { parseTurnUrl } from './turn-url.ts';

export interface ServerHealth {
  url: string;
  region: string | undefined;
  healthy: boolean;
  /** round trip of the last successful probe */
  rttMs: number | undefined;
  lastError: string | undefined;
  consecutiveFailures: number;
  /** start of the probe the state reflects; undefined before the first */
  probedAt: Date | undefined;
}

export function initialHealth(server: { url: string; region?: string }): ServerHealth {
  return {
    url: server.url,
    region: server.region,
    healthy: false,
    rttMs: undefined,
    lastError: undefined,
    consecutiveFailures: 0,
    probedAt: undefined,
  };
}

/**
 * The state after a probe that started at `startedAt`. One success makes a server healthy;
 * it turns unhealthy after `downAfter` failures in a row, so one lost probe does not take
 * a working server out of rotation. A probe older than the state is ignored (overlapping
 * rounds may finish out of order).
 */
export function applyProbeResult(
  prev: ServerHealth,
  result: ProbeResult,
  startedAt: Date,
  downAfter: number,
): ServerHealth {
  if (prev.probedAt && startedAt < prev.probedAt) return prev;
  if (result.ok) {
    return {
      ...prev,
      healthy: true,
      rttMs: result.rttMs,
      lastError: undefined,
      consecutiveFailures: 0,
      probedAt: startedAt,
    };
  }
  const consecutiveFailures = prev.consecutiveFailures + 1;
  return {
    ...prev,
    healthy: prev.healthy && consecutiveFailures < downAfter,
    lastError: result.error,
    consecutiveFailures,
    probedAt: startedAt,
  };
}

/** The servers to offer: healthy ones, the client's region first, then by round trip. */
export function chooseServers(
  servers: readonly ServerHealth[],
  opts: { region?: string; limit?: number } = {},
): ServerHealth[] {
  const local = (s: ServerHealth) =>
    opts.region !== undefined && s.region === opts.region ? 0 : 1;
  return servers
    .filter((s) => s.healthy)
    .sort(
      (a, b) =>
        local(a) - local(b) ||
        (a.rttMs ?? Number.POSITIVE_INFINITY) - (b.rttMs ?? Number.POSITIVE_INFINITY) ||
        a.url.localeCompare(b.url),
    )
    .slice(0, opts.limit);
}

const turnUrl = z.string().superRefine((url, ctx) => {
  try {
    parseTurnUrl(url);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
});

export const fleetSettingsSchema = z
  .object({
    servers: z
      .array(z.object({ url: turnUrl, region: z.string().min(1).optional() }))
      .min(1, 'needs at least one server')
      .refine((list) => new Set(list.map((s) => s.url)).size === list.length, {
        error: 'server URLs must be unique',
      }),
    /** the current shared secret; probes mint their own short-lived credentials with it */
    secret: z.string().min(1).optional(),
    /**
     * Instead of the secret, a credential minted already: what a session's streamer holds (it
     * never gets the secret). Every probe signs with it.
     */
    credential: z.object({ username: z.string().min(1), credential: z.string().min(1) }).optional(),
    intervalMs: z.number().int().min(100).default(10_000),
    timeoutMs: z.number().int().min(100).default(DEFAULT_PROBE_TIMEOUT_MS),
    downAfter: z.number().int().min(1).default(2),
    /** the session id in the probes' usernames, to tell them apart in coturn's logs */
    probeSessionId: z
      .string()
      .regex(/^[^:]+$/, 'must be non-empty, without ":"')
      .default('floe-health-probe'),
    ca: z.string().optional(),
  })
  .refine((s) => (s.secret === undefined) !== (s.credential === undefined), {
    path: ['secret'],
    error: 'set either the secret or a credential',
  });

export type FleetSettings = z.input<typeof fleetSettingsSchema>;

export interface FleetOptions extends FleetSettings {
  /** called when a server turns healthy or unhealthy, e.g. to log it */
  onChange?: (health: ServerHealth) => void;
  /** the probe; tests and benchmarks may count or wrap it */
  probe?: (opts: ProbeOptions) => Promise<ProbeResult>;
}

export class TurnFleet {
  #settings: z.output<typeof fleetSettingsSchema>;
  readonly #onChange: ((health: ServerHealth) => void) | undefined;
  readonly #probe: (opts: ProbeOptions) => Promise<ProbeResult>;
  readonly #stopping = new AbortController();
  readonly #rounds = new Set<Promise<void>>();
  #health: ServerHealth[];
  #loop: Promise<void> | undefined;

  constructor(opts: FleetOptions) {
    const { onChange, probe, ...settings } = opts;
    const parsed = fleetSettingsSchema.safeParse(settings);
    if (!parsed.success) throw settingsError('TURN fleet settings', parsed.error);
    this.#settings = parsed.data;
    this.#onChange = onChange;
    this.#probe = probe ?? probeTurnServer;
    this.#health = this.#settings.servers.map(initialHealth);
  }

  /** Probes now and then every intervalMs until stop(). */
  start() {
    if (this.#loop || this.#stopping.signal.aborted) return;
    this.#loop = (async () => {
      const signal = this.#stopping.signal;
      while (!signal.aborted) {
        await this.checkNow();
        await sleep(this.#settings.intervalMs, undefined, { signal }).catch(() => {});
      }
    })();
  }

  /** One round: every server probed once, in parallel; resolves when all have answered. */
  checkNow(): Promise<void> {
    const round = this.#round();
    this.#rounds.add(round);
    return round.finally(() => this.#rounds.delete(round));
  }

  async #round(): Promise<void> {
    const { secret, credential, timeoutMs, downAfter, probeSessionId, ca } = this.#settings;
    const signal = this.#stopping.signal;
    await Promise.all(
      this.#settings.servers.map(async ({ url }) => {
        const startedAt = new Date();
        // The credential must outlive the probe, not more: a leaked one is soon worthless.
        const ttlSeconds = Math.ceil(timeoutMs / 1000) + 60;
        const creds = secret
          ? mintTurnCredentials({ secret, sessionId: probeSessionId, ttlSeconds, now: startedAt })
          : credential!;
        const result = await this.#probe({ url, ...creds, timeoutMs, signal, ca }).catch(
          (err: unknown): ProbeResult => ({ ok: false, error: String(err) }),
        );
        if (signal.aborted) return;
        this.#record(url, (prev) => applyProbeResult(prev, result, startedAt, downAfter));
      }),
    );
  }

  /** After a rotation: the probes that start from now on sign with `secret`. */
  setSecret(secret: string) {
    if (secret.length === 0) throw new Error('TURN secret is empty');
    this.#settings = { ...this.#settings, secret };
  }

  /** Every server's latest state, in configuration order. */
  status(): ServerHealth[] {
    return this.#health.map((h) => ({ ...h }));
  }

  healthy(): ServerHealth[] {
    return this.status().filter((h) => h.healthy);
  }

  /** See chooseServers. */
  choose(opts: { region?: string; limit?: number } = {}): ServerHealth[] {
    return chooseServers(this.status(), opts);
  }

  /** Ends the loop and aborts probes in flight; resolves when nothing runs any more. */
  async stop(): Promise<void> {
    this.#stopping.abort();
    await Promise.allSettled([this.#loop, ...this.#rounds]);
  }

  #record(url: string, update: (prev: ServerHealth) => ServerHealth) {
    let changed: ServerHealth | undefined;
    this.#health = this.#health.map((prev) => {
      if (prev.url !== url) return prev;
      const next = update(prev);
      if (next.healthy !== prev.healthy) changed = next;
      return next;
    });
    // told once the state is stored: a listener reading status() sees the change
    if (changed) this.#onChange?.({ ...changed });
  }
}
