// A small time-bounded cache with single flight: concurrent misses for one key share one
// load, so a burst of requests for a new tenant makes one call to the control plane.

export class TtlCache<T> {
  private readonly entries = new Map<string, { value: T; until: number }>();
  private readonly inflight = new Map<string, Promise<T>>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;

  constructor(opts: { ttlMs: number; maxEntries?: number }) {
    this.ttlMs = opts.ttlMs;
    this.maxEntries = opts.maxEntries ?? 10_000;
  }

  /** The cached value, or `load()`'s; a failed load is not cached. */
  async get(key: string, load: () => Promise<T>): Promise<T> {
    const hit = this.entries.get(key);
    if (hit && hit.until > Date.now()) return hit.value;
    const running = this.inflight.get(key);
    if (running) return running;
    const loading = load()
      .then((value) => {
        if (this.ttlMs > 0) {
          if (this.entries.size >= this.maxEntries) this.evict();
          this.entries.set(key, { value, until: Date.now() + this.ttlMs });
        }
        return value;
      })
      .finally(() => this.inflight.delete(key));
    this.inflight.set(key, loading);
    return loading;
  }

  /** The cached value without loading: undefined when there is none (or it expired). */
  peek(key: string): T | undefined {
    const hit = this.entries.get(key);
    return hit && hit.until > Date.now() ? hit.value : undefined;
  }

  delete(key: string) {
    this.entries.delete(key);
  }

  private evict() {
    const now = Date.now();
    for (const [key, entry] of this.entries) if (entry.until <= now) this.entries.delete(key);
    // still full: the oldest entries go first (a Map iterates in insertion order)
    for (const key of this.entries.keys()) {
      if (this.entries.size < this.maxEntries) break;
      this.entries.delete(key);
    }
  }
}
