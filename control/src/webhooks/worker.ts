// The delivery worker: claims due outbox rows (webhook_deliveries), signs them per Standard
// Webhooks and sends them, then records the outcomes and the endpoints' health. Safe with
// several control-plane replicas: a claim is `FOR UPDATE SKIP LOCKED` and moves the row's
// next_attempt_at a lease ahead, so that no other replica takes it while it is in flight
// (and one that dies mid-send leaves it to be retried when the lease ends).
//
// Up to `batch` deliveries are in flight at once, each on its own: a slow receiver holds one
// slot, never the others' (no head-of-line blocking across tenants). Outcomes are written
// together, one transaction per few milliseconds, rather than one commit each.
import { sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import { Webhook } from 'standardwebhooks';
import { type Db, queryRows } from '../db/connect.ts';
import type { Metrics } from '../metrics.ts';
import type { SecretBox } from '../secrets.ts';
import {
  type AttemptResult,
  afterAttempt,
  DEFAULT_RETRY_POLICY,
  type DeliveryDecision,
  endpointAfterAttempt,
  type RetryPolicy,
} from './policy.ts';
import { webhookSecretContext } from './secret.ts';
import { WebhookSender } from './send.ts';
import { blockListOf, type TargetPolicy } from './target.ts';

export interface WorkerOptions {
  db: Db;
  secrets: SecretBox;
  log: Logger;
  metrics: Metrics;
  target: TargetPolicy;
  retry?: Partial<RetryPolicy>;
  /** how often the outbox is looked at when the last look found nothing */
  pollMs?: number;
  /** deliveries in flight at most */
  batch?: number;
  timeoutMs?: number;
  maxResponseBytes?: number;
  /** how long a claimed row is kept from other replicas */
  leaseMs?: number;
  random?: () => number;
}

interface Claimed {
  id: string;
  event_id: string;
  endpoint_id: string;
  payload: Record<string, unknown>;
  attempts: number;
  created_at: string | Date;
  url: string;
  secret_sealed: string;
  consecutive_failures: number;
  failing_since: string | Date | null;
}

interface Outcome {
  row: Claimed;
  result: AttemptResult;
  decision: DeliveryDecision;
  disableReason: string | null;
  at: Date;
}

const USER_AGENT = 'Floe-Webhooks/1';
// how long finished attempts wait to be written together
const FLUSH_MS = 10;
// how long a wake waits, so that a burst of events is claimed in one look
const WAKE_MS = 25;

export class DeliveryWorker {
  private readonly o: Required<Omit<WorkerOptions, 'retry'>> & { retry: RetryPolicy };
  private readonly sender: WebhookSender;
  private timer: NodeJS.Timeout | null = null;
  /** the timer of an idle wait (null while a round runs) */
  private idleTimer: NodeJS.Timeout | null = null;
  private woken = false;
  private loop: Promise<void> | null = null;
  private stopped = true;
  private inFlight = new Set<Promise<void>>();
  private outcomes: Outcome[] = [];
  private flushing: Promise<void> | null = null;
  private flushTimer: NodeJS.Timeout | null = null;

  constructor(opts: WorkerOptions) {
    this.o = {
      pollMs: 250,
      batch: 50,
      timeoutMs: 10_000,
      maxResponseBytes: 64 * 1024,
      leaseMs: 60_000,
      random: Math.random,
      ...opts,
      retry: { ...DEFAULT_RETRY_POLICY, ...opts.retry },
    };
    this.sender = new WebhookSender({
      policy: opts.target,
      denied: blockListOf(opts.target.deniedCidrs),
      timeoutMs: this.o.timeoutMs,
      maxResponseBytes: this.o.maxResponseBytes,
    });
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  /**
   * Something was just queued in this process (a transition, an API write): look now rather
   * than at the next poll. Other replicas' events are found by polling.
   */
  wake() {
    if (this.stopped) return;
    if (!this.idleTimer) {
      this.woken = true; // a round runs: the next one starts at once
      return;
    }
    clearTimeout(this.idleTimer);
    this.idleTimer = null;
    this.schedule(WAKE_MS);
  }

  private schedule(ms: number) {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.idleTimer = null;
      this.woken = false;
      this.loop = this.round()
        .then((next) => this.schedule(this.woken ? Math.min(WAKE_MS, next) : next))
        .catch((err) => {
          this.o.log.error({ err }, 'webhook delivery round failed');
          this.schedule(this.o.pollMs * 4);
        });
    }, ms);
    this.timer.unref();
    if (ms > WAKE_MS) this.idleTimer = this.timer;
  }

  /** Claims what fits in flight; returns when to look again (ms). */
  private async round(): Promise<number> {
    const room = this.o.batch - this.inFlight.size;
    if (room <= 0) {
      await Promise.race(this.inFlight); // a slot frees
      return 0;
    }
    const claimed = await this.tick(room);
    return claimed === room ? 0 : this.o.pollMs;
  }

  /** Stops claiming; waits for what is in flight and writes its outcomes. Final: the
   * sender's connections are closed. */
  async stop() {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.loop?.catch(() => {});
    await Promise.all(this.inFlight);
    await this.flush();
    await this.sender.close();
  }

  /** Claims up to `limit` due rows and starts sending them. Returns how many it claimed. */
  async tick(limit = this.o.batch): Promise<number> {
    const rows = await this.claim(limit);
    for (const row of rows) {
      const sending: Promise<void> = this.deliver(row)
        .catch((err) => this.o.log.error({ err, deliveryId: row.id }, 'webhook delivery failed'))
        .finally(() => this.inFlight.delete(sending));
      this.inFlight.add(sending);
    }
    return rows.length;
  }

  /** Waits until nothing is in flight and every outcome is written (tests, benchmarks). */
  async idle() {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
    await this.flush();
  }

  private claim(limit: number): Promise<Claimed[]> {
    const lease = `${this.o.leaseMs} milliseconds`;
    return queryRows<Claimed>(
      this.o.db,
      sql`with due as (
            select d.id from webhook_deliveries d
            join webhook_endpoints e on e.id = d.endpoint_id
            where d.state = 'pending' and d.next_attempt_at <= now()
              and e.enabled and e.deleted_at is null
            order by d.next_attempt_at
            limit ${limit}
            for update of d skip locked
          ), claimed as (
            update webhook_deliveries d
            set attempts = d.attempts + 1, next_attempt_at = now() + ${lease}::interval
            from due where d.id = due.id
            returning d.*
          )
          select c.id, c.event_id, c.endpoint_id, c.payload, c.attempts, c.created_at,
                 e.url, e.secret_sealed, e.consecutive_failures, e.failing_since
          from claimed c join webhook_endpoints e on e.id = c.endpoint_id`,
    );
  }

  private async deliver(row: Claimed) {
    const { metrics } = this.o;
    const body = JSON.stringify(row.payload);
    const secret = this.o.secrets.open(row.secret_sealed, webhookSecretContext(row.endpoint_id));
    let result: AttemptResult;
    if (!secret) {
      result = { ok: false, status: null, error: 'the signing secret cannot be opened' };
    } else {
      const at = new Date();
      const started = performance.now();
      result = await this.sender.send(
        row.url,
        {
          'content-type': 'application/json',
          'user-agent': USER_AGENT,
          'webhook-id': row.event_id,
          'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
          'webhook-signature': new Webhook(secret).sign(row.event_id, at, body),
        },
        body,
      );
      metrics.webhookAttemptSeconds.observe((performance.now() - started) / 1000);
    }
    const now = new Date();
    const createdAt = new Date(row.created_at);
    const decision = afterAttempt(
      { attempts: row.attempts, createdAt },
      result,
      now,
      this.o.retry,
      this.o.random(),
    );
    const { disableReason } = endpointAfterAttempt(
      {
        consecutiveFailures: row.consecutive_failures,
        failingSince: row.failing_since ? new Date(row.failing_since) : null,
      },
      result,
      now,
      this.o.retry,
    );
    metrics.webhookDeliveries.inc({ outcome: result.ok ? 'succeeded' : 'failed' });
    if (result.ok) metrics.webhookLag.observe((now.getTime() - createdAt.getTime()) / 1000);
    if (decision.state === 'failed') metrics.webhookGivenUp.inc();
    this.outcomes.push({ row, result, decision, disableReason, at: now });
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = null;
      void this.flush().catch((err) =>
        this.o.log.error({ err }, 'recording webhook outcomes failed'),
      );
    }, FLUSH_MS);
  }

  /** Writes the outcomes gathered so far in one transaction (one at a time). */
  private async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    const batch = this.outcomes.splice(0);
    if (batch.length === 0) return;
    this.flushing = this.write(batch).finally(() => {
      this.flushing = null;
    });
    await this.flushing;
  }

  private async write(batch: Outcome[]) {
    const { log, metrics } = this.o;
    const deliveries = batch.map((o) => ({
      id: o.row.id,
      state: o.decision.state,
      next: (o.decision.state === 'pending' ? o.decision.nextAttemptAt : o.at).toISOString(),
      at: o.at.toISOString(),
      status: o.result.status,
      error: o.result.error?.slice(0, 500) ?? null,
      delivered: o.result.ok ? o.at.toISOString() : null,
    }));
    const endpoints = endpointChanges(batch);
    await this.o.db.transaction(async (tx) => {
      await tx.execute(sql`
        update webhook_deliveries d set state = v.state, next_attempt_at = v.next,
          last_attempt_at = v.at, last_status = v.status, last_error = v.error,
          delivered_at = v.delivered
        from jsonb_to_recordset(${JSON.stringify(deliveries)}::jsonb) as v(id uuid, state text,
          next timestamptz, at timestamptz, status int, error text, delivered timestamptz)
        where d.id = v.id`);
      for (const e of endpoints) {
        // relative to the stored counts: other replicas' attempts land there too
        await tx.execute(sql`
          update webhook_endpoints set
            consecutive_failures = case when ${e.reset}::boolean then 0 else consecutive_failures end
              + ${e.failures}::int,
            failing_since = case when ${e.failures}::int = 0 then null
              when ${e.reset}::boolean then ${e.firstFailure}::timestamptz
              else coalesce(failing_since, ${e.firstFailure}::timestamptz) end,
            enabled = enabled and ${e.disableReason}::text is null,
            disabled_reason = coalesce(${e.disableReason}::text, disabled_reason)
          where id = ${e.id}
            -- a success on a healthy endpoint changes nothing: no new row version to write
            and not (${e.reset}::boolean and ${e.failures}::int = 0
              and consecutive_failures = 0 and failing_since is null)`);
      }
    });
    for (const e of endpoints) {
      if (!e.disableReason) continue;
      metrics.webhookEndpointsDisabled.inc();
      log.warn({ endpointId: e.id, reason: e.disableReason }, 'webhook endpoint disabled');
    }
    for (const o of batch) {
      if (o.result.ok) continue;
      log.info(
        { deliveryId: o.row.id, endpointId: o.row.endpoint_id, error: o.result.error },
        'webhook attempt failed',
      );
    }
  }
}

/**
 * Per endpoint, what a batch of outcomes (in the order they finished) does to its health: a
 * success resets the count, failures after the last success add to it.
 */
export function endpointChanges(batch: Pick<Outcome, 'row' | 'result' | 'at' | 'disableReason'>[]) {
  const byEndpoint = new Map<
    string,
    {
      id: string;
      reset: boolean;
      failures: number;
      firstFailure: string | null;
      disableReason: string | null;
    }
  >();
  for (const o of batch) {
    const id = o.row.endpoint_id;
    const e = byEndpoint.get(id) ?? {
      id,
      reset: false,
      failures: 0,
      firstFailure: null,
      disableReason: null,
    };
    if (o.result.ok) {
      Object.assign(e, { reset: true, failures: 0, firstFailure: null, disableReason: null });
    } else {
      e.failures++;
      e.firstFailure ??= o.at.toISOString();
      e.disableReason ??= o.disableReason;
    }
    byEndpoint.set(id, e);
  }
  // in one order in every replica: two flushes touching the same endpoints cannot deadlock
  return [...byEndpoint.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
