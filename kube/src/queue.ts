// A work queue in the manner of client-go's: a key waits in the queue at most once however
// often it is added; a key being processed is never handed to a second worker, and if it is
// added meanwhile it is processed again afterwards; failures are retried with per-key
// exponential backoff; a key can be scheduled for later (timeouts).

export interface QueueOptions {
  /** first retry delay after a failure, doubled per consecutive failure */
  baseDelayMs?: number;
  maxDelayMs?: number;
  onDepth?: (depth: number) => void;
}

export type Handler = (key: string) => Promise<{ requeueAfterMs?: number } | undefined>;

export class WorkQueue {
  private readonly queue: string[] = [];
  /** keys waiting in `queue`, or to be queued again once their processing ends */
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly waiters: (() => void)[] = [];
  private shuttingDown = false;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly onDepth: (depth: number) => void;

  constructor(opts: QueueOptions = {}) {
    this.baseDelayMs = opts.baseDelayMs ?? 50;
    this.maxDelayMs = opts.maxDelayMs ?? 60_000;
    this.onDepth = opts.onDepth ?? (() => {});
  }

  get depth(): number {
    return this.queue.length;
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return; // queued again when its processing ends
    this.queue.push(key);
    this.onDepth(this.queue.length);
    this.waiters.shift()?.();
  }

  /** Adds the key after `ms`; an earlier pending schedule of the same key wins. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = Date.now() + ms;
    const existing = this.timers.get(key);
    if (existing && existing.at <= at) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    timer.unref();
    this.timers.set(key, { at, timer });
  }

  /** Retries a failed key after its backoff: base * 2^(failures-1), capped. */
  addRateLimited(key: string): number {
    const n = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, n);
    const delay = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (n - 1));
    this.addAfter(key, delay);
    return delay;
  }

  /** Clears a key's failure count (it succeeded). */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /**
   * The next key to process, marking it in processing; undefined once shut down or once
   * `cancelled()` holds (checked whenever the wait is woken, see wakeAll).
   */
  async get(cancelled: () => boolean = () => false): Promise<string | undefined> {
    for (;;) {
      if (this.shuttingDown || cancelled()) return undefined;
      if (this.queue.length > 0) break;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    const key = this.queue.shift() as string;
    this.onDepth(this.queue.length);
    this.processing.add(key);
    this.dirty.delete(key);
    return key;
  }

  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) {
      this.queue.push(key);
      this.onDepth(this.queue.length);
      this.waiters.shift()?.();
    }
  }

  /** Wakes every waiting get(), so that cancelled ones return. */
  wakeAll(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  shutDown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const w of this.waiters.splice(0)) w();
  }
}

/**
 * Runs `workers` loops taking keys from the queue while `active()` holds; resolves when
 * stopped through the returned function (after in-flight keys finish).
 */
export function runWorkers(
  queue: WorkQueue,
  workers: number,
  handle: Handler,
  onError: (key: string, err: unknown, retryInMs: number) => void,
): { stop(): Promise<void> } {
  let stopped = false;
  const loop = async () => {
    while (!stopped) {
      const key = await queue.get(() => stopped);
      if (key === undefined) return;
      try {
        const result = await handle(key);
        queue.forget(key);
        if (result?.requeueAfterMs !== undefined) queue.addAfter(key, result.requeueAfterMs);
      } catch (err) {
        onError(key, err, queue.addRateLimited(key));
      } finally {
        queue.done(key);
      }
    }
  };
  const loops = Array.from({ length: workers }, loop);
  return {
    async stop() {
      stopped = true;
      queue.wakeAll();
      await Promise.all(loops);
    },
  };
}
