// An informer: a cache of one kind of object kept current by list + watch, in the manner of
// client-go's reflector. It replaces client-node's ListWatch, which stops for good on any
// error but 410, cannot ask for bookmarks and hands out list items and watch events in
// different shapes. Here:
// - a watch that ends is resumed from the last resourceVersion (bookmarks keep it fresh, so a
//   resume rarely needs the server's history);
// - 410 Gone (history compacted) re-lists at once, telling handlers about objects that
//   vanished meanwhile;
// - any other failure retries after exponential backoff with jitter, forever, and the
//   informer reports itself disconnected meanwhile;
// - every `resyncMs` every cached object is handed to the handler again, so a missed or
//   mishandled event is never final;
// - every successful (re-)list is reported (`onListed`), so that an owner can reconcile
//   against the whole; with `relistAfterError`, a failure is followed by a list rather than
//   a resumed watch, so that a server's return is always such a moment.
import { isGone, type Kube, KubeApiError, type ResourceRef, type WatchEvent } from './kube.ts';
import type { KubeObject } from './resources.ts';

export interface ListResult<T> {
  items: T[];
  metadata: { resourceVersion?: string };
}

/** The API calls an informer makes; real ones in makeListerWatcher, fakes in tests. */
export interface ListerWatcher<T> {
  list(): Promise<ListResult<T>>;
  /** Streams events from resourceVersion until the server ends the watch (resolve) or fails. */
  watch(
    resourceVersion: string,
    onEvent: (ev: WatchEvent<T>) => void,
    signal: AbortSignal,
  ): Promise<void>;
}

export type InformerEvent = 'add' | 'update' | 'delete' | 'resync';

export interface InformerOptions<T> {
  name: string;
  /** `listed`: seen by a (re-)list rather than a watch event; a 'delete' so seen vanished
   * while nothing watched (its last state may be older than its deletion) */
  onEvent: (event: InformerEvent, obj: T, listed: boolean) => void;
  /** a (re-)list succeeded: the cache holds exactly what it returned */
  onListed?: () => void;
  /** every cached object again after this long, 0: never */
  resyncMs?: number;
  backoff?: BackoffOptions;
  onConnected?: (connected: boolean) => void;
  /** `failures`: in a row, counting from the last time the server answered */
  onError?: (err: unknown, retryInMs: number, failures: number) => void;
  /** after a failure, re-list (reporting it) rather than resume the watch */
  relistAfterError?: boolean;
  /** for tests: the clock of backoff waits */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  random?: () => number;
}

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  /** a delay is stretched by up to this fraction at random, so replicas don't retry in step */
  jitter: number;
}

export const defaultBackoff: BackoffOptions = { baseMs: 500, maxMs: 30_000, jitter: 0.5 };

/** PURE: the wait before retry number `attempt` (1, 2, ...). */
export function backoffDelay(attempt: number, b: BackoffOptions, random: () => number): number {
  const exp = Math.min(b.maxMs, b.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp * (1 + b.jitter * random()));
}

export const keyOf = (o: KubeObject) =>
  o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;

const abortableSleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });

export class Informer<T extends KubeObject> {
  private readonly cache = new Map<string, T>();
  private readonly lw: ListerWatcher<T>;
  private readonly opts: InformerOptions<T>;
  private readonly abort = new AbortController();
  private resourceVersion = '';
  private connectedNow = false;
  private syncedOnce = false;
  private resolveSynced!: () => void;
  private resyncTimer: NodeJS.Timeout | undefined;
  private loop: Promise<void> | undefined;
  private wake: AbortController | undefined;
  /** counters, for tests and logs */
  readonly stats = { lists: 0, watches: 0, errors: 0, gone: 0 };
  /** resolves after the first complete list */
  readonly synced: Promise<void>;

  constructor(lw: ListerWatcher<T>, opts: InformerOptions<T>) {
    this.lw = lw;
    this.opts = opts;
    this.synced = new Promise((r) => {
      this.resolveSynced = r;
    });
  }

  get connected(): boolean {
    return this.connectedNow;
  }
  get hasSynced(): boolean {
    return this.syncedOnce;
  }

  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  keys(): string[] {
    return [...this.cache.keys()];
  }

  start(): void {
    if (this.loop) return;
    this.loop = this.run();
    const resync = this.opts.resyncMs ?? 0;
    if (resync > 0) {
      this.resyncTimer = setInterval(() => this.resync(), resync);
      this.resyncTimer.unref();
    }
  }

  /** Hands every cached object to the handler again. */
  resync(): void {
    for (const obj of this.cache.values()) this.opts.onEvent('resync', obj, false);
  }

  /** Ends a backoff wait now (e.g. when the owner has seen the server answer again). */
  retryNow(): void {
    this.wake?.abort();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    clearInterval(this.resyncTimer);
    await this.loop;
  }

  private setConnected(c: boolean) {
    if (this.connectedNow === c) return;
    this.connectedNow = c;
    this.opts.onConnected?.(c);
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    const sleep = this.opts.sleep ?? abortableSleep;
    const random = this.opts.random ?? Math.random;
    let failures = 0;
    while (!signal.aborted) {
      try {
        if (!this.resourceVersion) {
          await this.relist();
          failures = 0; // the server answers: count a later failure as the first
        }
        this.setConnected(true);
        this.stats.watches++;
        await this.lw.watch(
          this.resourceVersion,
          (ev) => {
            failures = 0; // events flow: the watch works
            this.apply(ev);
          },
          signal,
        );
        failures = 0; // a watch that ran and ended normally: resume at once
      } catch (err) {
        if (signal.aborted) break;
        if (isGone(err) || this.opts.relistAfterError) this.resourceVersion = '';
        if (isGone(err)) {
          // the server no longer has our resourceVersion: start over from a fresh list
          this.stats.gone++;
          continue;
        }
        this.stats.errors++;
        this.setConnected(false);
        failures++;
        const delay = backoffDelay(failures, this.opts.backoff ?? defaultBackoff, random);
        this.opts.onError?.(err, delay, failures);
        this.wake = new AbortController();
        await sleep(delay, AbortSignal.any([signal, this.wake.signal]));
        this.wake = undefined;
      }
    }
    this.setConnected(false);
  }

  private async relist() {
    this.stats.lists++;
    const list = await this.lw.list();
    const seen = new Set<string>();
    for (const obj of list.items) {
      const key = keyOf(obj);
      seen.add(key);
      this.upsert(key, obj, true);
    }
    for (const [key, obj] of this.cache) {
      if (seen.has(key)) continue;
      this.cache.delete(key);
      this.opts.onEvent('delete', obj, true);
    }
    this.resourceVersion = list.metadata.resourceVersion ?? '';
    if (!this.syncedOnce) {
      this.syncedOnce = true;
      this.resolveSynced();
    }
    this.opts.onListed?.();
  }

  private upsert(key: string, obj: T, listed: boolean) {
    const old = this.cache.get(key);
    if (old && old.metadata.resourceVersion === obj.metadata.resourceVersion) return;
    this.cache.set(key, obj);
    this.opts.onEvent(old ? 'update' : 'add', obj, listed);
  }

  private apply(ev: WatchEvent<T>) {
    if (ev.type === 'ERROR') {
      const status = ev.object as unknown as { code?: number; reason?: string; message?: string };
      // ends this watch; run() re-lists on 410 and backs off otherwise
      throw new KubeApiError(
        status.code ?? 500,
        status.reason ?? 'WatchError',
        status.message ?? '',
        'watch',
      );
    }
    const rv = ev.object.metadata?.resourceVersion;
    if (ev.type === 'BOOKMARK') {
      if (rv) this.resourceVersion = rv;
      return;
    }
    const key = keyOf(ev.object);
    if (ev.type === 'DELETED') {
      this.cache.delete(key);
      this.opts.onEvent('delete', ev.object, false);
    } else {
      this.upsert(key, ev.object, false);
    }
    if (rv) this.resourceVersion = rv;
  }
}

/** Lists and watches one kind (all namespaces) through the API, with bookmarks. */
export function kubeListerWatcher<T>(
  kube: Kube,
  ref: ResourceRef,
  labelSelector?: string,
  fieldSelector?: string,
): ListerWatcher<T> {
  return {
    list: () =>
      kube.request<ListResult<T>>('list', ref, {
        // resourceVersion 0: served from the API server's watch cache, not etcd
        query: { labelSelector, fieldSelector, resourceVersion: '0' },
      }),
    watch: (resourceVersion, onEvent, signal) =>
      kube.watch<T>(
        ref,
        {
          labelSelector,
          fieldSelector,
          resourceVersion,
          allowWatchBookmarks: true,
          // the server ends a watch after this: a fresh connection now and then, spread
          // over time like client-go's reflector (5 to 10 minutes)
          timeoutSeconds: 300 + Math.floor(Math.random() * 300),
        },
        onEvent,
        signal,
      ),
  };
}
