// The delivery worker: claims due outbox rows (webhook_deliveries), signs them per Standard
// Webhooks and sends them, then records the outcome and the endpoint's health. Safe with
// several control-plane replicas: a claim is `FOR UPDATE SKIP LOCKED` and moves the row's
// next_attempt_at a lease ahead, so that no other replica takes it while it is in flight
// (and one that dies mid-send leaves it to be retried when the lease ends).
import { eq, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import { Webhook } from 'standardwebhooks';
import { type Db, queryRows } from '../db/connect.ts';
import { webhookDeliveries, webhookEndpoints } from '../db/schema.ts';
import type { Metrics } from '../metrics.ts';
import type { SecretBox } from '../secrets.ts';
import {
  type AttemptResult,
  afterAttempt,
  DEFAULT_RETRY_POLICY,
  endpointAfterAttempt,
  type RetryPolicy,
} from './policy.ts';
import { webhookSecretContext } from './secret.ts';
import { type SendOptions, sendWebhook } from './send.ts';
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
  /** rows claimed at once; they are sent concurrently */
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
  event_type: string;
  payload: Record<string, unknown>;
  attempts: number;
  created_at: string | Date;
  url: string;
  secret_sealed: string;
  consecutive_failures: number;
  failing_since: string | Date | null;
}

const USER_AGENT = 'Floe-Webhooks/1';

export class DeliveryWorker {
  private readonly o: Required<Omit<WorkerOptions, 'retry'>> & { retry: RetryPolicy };
  private readonly send: SendOptions;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = true;

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
    this.send = {
      policy: opts.target,
      denied: blockListOf(opts.target.deniedCidrs),
      timeoutMs: this.o.timeoutMs,
      maxResponseBytes: this.o.maxResponseBytes,
    };
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  private schedule(ms: number) {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick()
        .then((n) => this.schedule(n >= this.o.batch ? 0 : this.o.pollMs))
        .catch((err) => {
          this.o.log.error({ err }, 'webhook delivery round failed');
          this.schedule(this.o.pollMs * 4);
        });
    }, ms);
    this.timer.unref();
  }

  async stop() {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => {});
  }

  /** One round: claims due rows and sends them. Returns how many were claimed. */
  async tick(): Promise<number> {
    const rows = await this.claim();
    await Promise.all(rows.map((r) => this.deliver(r)));
    return rows.length;
  }

  private claim(): Promise<Claimed[]> {
    const lease = `${this.o.leaseMs} milliseconds`;
    return queryRows<Claimed>(
      this.o.db,
      sql`with due as (
            select d.id from webhook_deliveries d
            join webhook_endpoints e on e.id = d.endpoint_id
            where d.state = 'pending' and d.next_attempt_at <= now()
              and e.enabled and e.deleted_at is null
            order by d.next_attempt_at
            limit ${this.o.batch}
            for update of d skip locked
          ), claimed as (
            update webhook_deliveries d
            set attempts = d.attempts + 1, next_attempt_at = now() + ${lease}::interval
            from due where d.id = due.id
            returning d.*
          )
          select c.id, c.event_id, c.endpoint_id, c.event_type, c.payload, c.attempts,
                 c.created_at, e.url, e.secret_sealed, e.consecutive_failures, e.failing_since
          from claimed c join webhook_endpoints e on e.id = c.endpoint_id`,
    );
  }

  private async deliver(row: Claimed) {
    const { metrics, log } = this.o;
    const body = JSON.stringify(row.payload);
    const secret = this.o.secrets.open(row.secret_sealed, webhookSecretContext(row.endpoint_id));
    let result: AttemptResult;
    if (!secret) {
      result = { ok: false, status: null, error: 'the signing secret cannot be opened' };
    } else {
      const at = new Date();
      const signature = new Webhook(secret).sign(row.event_id, at, body);
      const started = performance.now();
      result = await sendWebhook(
        row.url,
        {
          'content-type': 'application/json',
          'user-agent': USER_AGENT,
          'webhook-id': row.event_id,
          'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
          'webhook-signature': signature,
        },
        body,
        this.send,
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
    const health = endpointAfterAttempt(
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
    await this.o.db.transaction(async (tx) => {
      await tx
        .update(webhookDeliveries)
        .set({
          state: decision.state,
          nextAttemptAt: decision.state === 'pending' ? decision.nextAttemptAt : now,
          lastAttemptAt: now,
          lastStatus: result.status,
          lastError: result.error?.slice(0, 500) ?? null,
          deliveredAt: result.ok ? now : null,
        })
        .where(eq(webhookDeliveries.id, row.id));
      // relative to the stored counts, not this row's snapshot: attempts run concurrently
      if (result.ok) {
        await tx
          .update(webhookEndpoints)
          .set({ consecutiveFailures: 0, failingSince: null })
          .where(eq(webhookEndpoints.id, row.endpoint_id));
      } else {
        await tx
          .update(webhookEndpoints)
          .set({
            consecutiveFailures: sql`${webhookEndpoints.consecutiveFailures} + 1`,
            failingSince: sql`coalesce(${webhookEndpoints.failingSince}, ${now.toISOString()}::timestamptz)`,
            ...(health.disableReason && {
              enabled: false,
              disabledReason: health.disableReason,
            }),
          })
          .where(eq(webhookEndpoints.id, row.endpoint_id));
      }
    });
    if (health.disableReason) {
      metrics.webhookEndpointsDisabled.inc();
      log.warn(
        { endpointId: row.endpoint_id, reason: health.disableReason },
        'webhook endpoint disabled',
      );
    }
    if (!result.ok) {
      log.info(
        {
          deliveryId: row.id,
          endpointId: row.endpoint_id,
          error: result.error,
          state: decision.state,
        },
        'webhook attempt failed',
      );
    }
  }
}
