import { eq } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Db } from '../db/connect.ts';
import type { Bus } from '../db/notify.ts';
import { sessions } from '../db/schema.ts';
import type { SessionRow } from './admission.ts';

/**
 * Session rows as they change, whichever replica recorded the change: the bus brings each
 * change (db/notify.ts `sessionChanged`) with the row as written, or, where it did not fit,
 * only which session changed, and the row is read here, once however many watch it. After
 * the bus reconnects every watched row is read again (notifications may have been missed
 * meanwhile). Watchers may be handed the same state twice, or an older row after a newer
 * one, and should compare (see the progress route).
 */
export class SessionWatch {
  private readonly watchers = new Map<string, Set<(row: SessionRow) => void>>();
  /** reads in flight per session, and whether another must follow it */
  private readonly reading = new Map<string, { again: boolean }>();
  private readonly db: Db;
  private readonly log: Logger;
  private readonly unsubscribe: (() => void)[];

  constructor(db: Db, bus: Bus, log: Logger) {
    this.db = db;
    this.log = log;
    this.unsubscribe = [
      bus.subscribe('session', ({ id, row }) => {
        if (!this.watchers.has(id)) return;
        // the row as written comes with the notification where it fits: handed on as it is,
        // so that watchers see each state; else read (the latest state only)
        if (row) this.hand(id, row as unknown as SessionRow);
        else this.refresh(id);
      }),
      bus.onResync(() => {
        for (const id of this.watchers.keys()) this.refresh(id);
      }),
    ];
  }

  /**
   * Calls `listener` with the session's row after each change (from any replica); read
   * the row after subscribing, so that no change falls in between. Returns the unsubscribe.
   */
  watchSession(sessionId: string, listener: (row: SessionRow) => void): () => void {
    let set = this.watchers.get(sessionId);
    if (!set) {
      set = new Set();
      this.watchers.set(sessionId, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.watchers.get(sessionId) === set) this.watchers.delete(sessionId);
    };
  }

  /** How many listeners watch a session (or all sessions). */
  watching(sessionId?: string): number {
    if (sessionId) return this.watchers.get(sessionId)?.size ?? 0;
    let n = 0;
    for (const set of this.watchers.values()) n += set.size;
    return n;
  }

  private hand(id: string, row: SessionRow) {
    for (const listener of this.watchers.get(id) ?? []) {
      try {
        listener(row);
      } catch (err) {
        this.log.error({ err, sessionId: id }, 'a session watcher failed');
      }
    }
  }

  /** Reads the row and hands it on; one read at a time per session, in order. */
  private refresh(id: string) {
    const inFlight = this.reading.get(id);
    if (inFlight) {
      inFlight.again = true;
      return;
    }
    const state = { again: false };
    this.reading.set(id, state);
    void (async () => {
      try {
        do {
          state.again = false;
          const [row] = await this.db.select().from(sessions).where(eq(sessions.id, id));
          if (!row) break;
          this.hand(id, row);
        } while (state.again && this.watchers.has(id));
      } catch (err) {
        this.log.warn({ err, sessionId: id }, 'reading a watched session failed');
      } finally {
        this.reading.delete(id);
      }
    })();
  }

  close() {
    for (const u of this.unsubscribe) u();
    this.watchers.clear();
  }
}
