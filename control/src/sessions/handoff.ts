import type { Bus } from '../db/notify.ts';
import type { SessionRow } from './admission.ts';
import type { Supervisor } from './supervisor.ts';
import type { TransitionBy } from './transition.ts';

/**
 * Hands sessions to the replica that drives their cluster, whichever replica admitted or
 * stopped them: the API records what should happen (a session admitted, a stop asked), the
 * bus tells every replica, and the one whose supervisor drives the cluster adds the session
 * to its sync loop. After the bus reconnects (notifications may have been lost), that
 * replica looks at every session of its clusters again.
 */
export class SessionHandoff {
  private readonly supervisor: Pick<Supervisor, 'admitted' | 'enqueue' | 'resync' | 'terminate'>;
  private readonly unsubscribe: (() => void)[];

  constructor(deps: { bus: Bus; supervisor: SessionHandoff['supervisor'] }) {
    this.supervisor = deps.supervisor;
    this.unsubscribe = [
      deps.bus.subscribe('session', ({ id, clusterId, state }) => {
        // what the driving replica does not write itself: admissions and stops asked
        if (!clusterId || (state !== 'placed' && state !== 'requested' && state !== 'stopping')) {
          return;
        }
        this.supervisor.enqueue(clusterId, id); // nothing where the cluster is driven elsewhere
      }),
      deps.bus.onResync(() => void this.supervisor.resync()),
    ];
  }

  /** A session admitted through this replica: synced here at once if its cluster is driven here. */
  launch(session: SessionRow): void {
    this.supervisor.admitted(session);
  }

  /** A stop asked through this replica: recorded; the driving replica's loop stops it. */
  terminate(sessionId: string, reason: string, by?: TransitionBy): Promise<SessionRow | null> {
    return this.supervisor.terminate(sessionId, reason, by);
  }

  close(): void {
    for (const u of this.unsubscribe) u();
  }
}
