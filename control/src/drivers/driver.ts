import type { AppScheduling } from '@floe/operator/crd';
import type { DriverRef } from '../db/schema.ts';

/** What a driver needs to run one session; copied from the tenant, user and app at launch. */
export interface LaunchSpec {
  sessionId: string;
  tenantId: string;
  userId: string;
  tenant: { name: string; maxGpus: number | null };
  user: { email: string };
  app: {
    slug: string;
    image: string | null;
    command: string[] | null;
    env: Record<string, string>;
    cpu: string;
    memory: string;
    gpuSku: string | null;
    gpuCount: number;
    /** size of the home volume per (user, app); null: none */
    persistenceSize: string | null;
    idleTimeoutSeconds: number | null;
    maxLifetimeSeconds: number | null;
    /** Kubernetes only: tolerations, affinity, Secrets, mounts, egress of the app's pods */
    scheduling: AppScheduling | null;
  };
}

/** A driver's report of a session; the control plane turns it into a state transition. */
export interface DriverEvent {
  sessionId: string;
  /** `unknown`: the session's cluster cannot be reached, so its true state is not known */
  state: 'starting' | 'running' | 'unknown' | 'stopped' | 'failed';
  reason?: string;
  exitCode?: number;
  endpoint?: string;
  /** what the driver needs to find the session again after a control-plane restart */
  ref?: DriverRef;
}

/** How a driver's cluster is reached: `connecting` until it first answers. */
export type ClusterStatus = 'connected' | 'connecting' | 'unreachable';

export interface Capacity {
  /** GPUs by SKU the cluster has (Kubernetes: allocatable on its ready, schedulable nodes) */
  gpus: { sku: string; count: number }[];
  maxSessions: number | null;
  /** GPUs by SKU that workloads other than Floe's sessions hold; absent: none */
  heldByOthers?: { sku: string; count: number }[];
  /** absent: always reachable (the local runner) */
  status?: ClusterStatus;
  /** why it is not connected, when it is not */
  error?: string | null;
}

/**
 * One small contract, many drivers (local processes, Kubernetes). Calls return once the
 * request is accepted; progress arrives asynchronously through `watch`.
 */
export interface ClusterDriver {
  /** Idempotent: launching a session the cluster already runs changes nothing. */
  launch(spec: LaunchSpec): Promise<void>;
  /** Reports `stopped` once the session is gone; keeps trying while the cluster is away. */
  terminate(sessionId: string, ref: DriverRef | null): Promise<void>;
  /**
   * Re-attaches to a session an earlier control-plane process started (found by `ref`, or
   * by its session id where the driver can); reports through watch. `spec` is what it was
   * launched with, for what the driver enforces itself (the local runner's idle shutdown).
   */
  adopt(sessionId: string, ref: DriverRef | null, spec?: LaunchSpec): Promise<void>;
  /**
   * After every active session of the cluster was launched, adopted or terminated through
   * this driver: removes what the cluster still runs for any other session (orphans left
   * by a crash), now or as soon as the cluster answers. Drivers that cannot see what their
   * cluster runs beyond their own sessions leave it out.
   */
  removeOrphans?(): Promise<void>;
  watch(listener: (event: DriverEvent) => void): () => void;
  /** Live where the driver can see it (Kubernetes: kept current by watches, no request). */
  capacity(): Promise<Capacity>;
  /** Stops supervising. Sessions keep running unless `terminate` is set. */
  close(opts?: { terminate?: boolean }): Promise<void>;
}
