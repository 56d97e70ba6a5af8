// A list-then-watch cache of one kind of object, that never gives up: a watch that ends is
// resumed from the last resourceVersion, a 410 Gone re-lists, and any other error re-lists
// after a growing delay (the client's own ListWatch stops at the first such error). Each
// successful list is reported (`synced`), so that its owner can reconcile against the whole.

export interface KubeObject {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

export interface ListResult<T> {
  items: T[];
  resourceVersion: string;
}

/** Opens a watch from a resourceVersion; `done` is called once when it ends (null: closed). */
export type WatchFn<T> = (
  resourceVersion: string,
  onEvent: (type: string, object: T) => void,
  done: (err: unknown) => void,
) => Promise<{ abort(): void }>;

export interface InformerHandlers<T> {
  /** added or changed; `listed`: seen by a (re-)list rather than a watch event */
  upsert?(object: T, listed: boolean): void;
  /** gone; `listed`: missing from a re-list (it vanished while not watched) */
  remove?(object: T, listed: boolean): void;
  /** a list succeeded and the cache holds exactly what it returned */
  synced?(): void;
  /** a list or watch failed; `failures` in a row, since the last successful list */
  error?(err: unknown, failures: number): void;
}

export interface Backoff {
  initialMs: number;
  maxMs: number;
}

const key = (o: KubeObject) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

/** The HTTP status of a failed request, whichever way the client reports it. */
export function httpStatus(err: unknown): number | undefined {
  const e = err as { code?: unknown; statusCode?: unknown } | null;
  if (typeof e?.statusCode === 'number') return e.statusCode;
  if (typeof e?.code === 'number') return e.code;
  return undefined;
}

export class Informer<T extends KubeObject> {
  private readonly objects = new Map<string, T>();
  private readonly list: () => Promise<ListResult<T>>;
  private readonly watch: WatchFn<T>;
  private readonly handlers: InformerHandlers<T>;
  private readonly backoff: Backoff;
  private resourceVersion = '';
  private gone = false;
  private failures = 0;
  private stopped = true;
  private request: { abort(): void } | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** a list has succeeded since start */
  synced = false;

  constructor(opts: {
    list: () => Promise<ListResult<T>>;
    watch: WatchFn<T>;
    handlers: InformerHandlers<T>;
    backoff: Backoff;
  }) {
    this.list = opts.list;
    this.watch = opts.watch;
    this.handlers = opts.handlers;
    this.backoff = opts.backoff;
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    void this.relist();
  }

  stop() {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.request?.abort();
    this.request = null;
  }

  values(): IterableIterator<T> {
    return this.objects.values();
  }

  get(namespace: string, name: string): T | undefined {
    return this.objects.get(`${namespace}/${name}`);
  }

  /** Re-lists now rather than after the current delay (e.g. when a request found the cluster back). */
  retryNow() {
    if (this.stopped || !this.timer) return;
    clearTimeout(this.timer);
    this.timer = null;
    void this.relist();
  }

  private async relist() {
    if (this.stopped) return;
    let result: ListResult<T>;
    try {
      result = await this.list();
    } catch (err) {
      return this.fail(err);
    }
    if (this.stopped) return;
    this.failures = 0;
    this.gone = false;
    const seen = new Set<string>();
    for (const object of result.items) {
      const k = key(object);
      seen.add(k);
      const before = this.objects.get(k);
      this.objects.set(k, object);
      if (before?.metadata?.resourceVersion !== object.metadata?.resourceVersion || !before) {
        this.handlers.upsert?.(object, true);
      }
    }
    for (const [k, object] of this.objects) {
      if (seen.has(k)) continue;
      this.objects.delete(k);
      this.handlers.remove?.(object, true);
    }
    this.resourceVersion = result.resourceVersion;
    this.synced = true;
    this.handlers.synced?.();
    await this.rewatch();
  }

  private async rewatch() {
    if (this.stopped) return;
    const opened = Date.now();
    let events = 0;
    const onEvent = (type: string, object: T) => {
      events++;
      if (type === 'ERROR') {
        // a Status object: 410 means our resourceVersion is too old to resume from
        if ((object as { code?: number }).code === 410) this.gone = true;
        return;
      }
      const rv = object.metadata?.resourceVersion;
      if (rv) this.resourceVersion = rv;
      if (type === 'BOOKMARK') return;
      const k = key(object);
      if (type === 'DELETED') {
        if (this.objects.delete(k)) this.handlers.remove?.(object, false);
      } else {
        this.objects.set(k, object);
        this.handlers.upsert?.(object, false);
      }
    };
    const done = (err: unknown) => {
      if (this.stopped) return;
      this.request = null;
      const timeout = (err as Error | null)?.name === 'TimeoutError';
      if (this.gone || httpStatus(err) === 410) return void this.relist();
      if (err && !timeout) return this.fail(err);
      // closed by the server (its timeout) or quiet for the client's: resume where we were,
      // unless it closed at once with nothing said, which must not become a tight loop
      if (events === 0 && Date.now() - opened < 1_000) return this.fail(new Error('watch closed'));
      void this.rewatch();
    };
    try {
      const request = await this.watch(this.resourceVersion, onEvent, done);
      if (this.stopped) request.abort();
      else this.request = request;
    } catch (err) {
      this.fail(err);
    }
  }

  private fail(err: unknown) {
    if (this.stopped) return;
    this.failures++;
    this.handlers.error?.(err, this.failures);
    const delay = Math.min(this.backoff.initialMs * 2 ** (this.failures - 1), this.backoff.maxMs);
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.relist();
    }, delay);
    this.timer.unref();
  }
}
