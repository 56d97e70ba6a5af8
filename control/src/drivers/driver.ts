import type { AppScheduling } from '@floe/operator/crd';
import type { VideoCodec } from '@floe/streamer/protocol';
import type { DriverRef } from '../db/schema.ts';
import type { TransferSettings } from '../domain/transfer.ts';

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
    /** the streamer's codec preference (FLOE_STREAMER_CODECS); null: its default */
    videoCodecs: VideoCodec[] | null;
  };
  /** clipboard and file transfer as the tenant and app allow; absent: all allowed */
  transfer?: TransferSettings;
}

/**
 * What a driver sees of one session on its cluster, from what it watches (no request):
 * the control plane compares it with the session's row to decide the next step.
 */
export type Observation =
  /** nothing is known: the cluster cannot be reached (why), or has not answered yet (null) */
  | { seen: 'unknown'; unreachable: string | null }
  /** the cluster answered and runs nothing for the session */
  | {
      seen: 'absent';
      /** what the absence of a session that ran means on this cluster */
      vanished: string;
    }
  /** the cluster runs something for the session, or keeps how it ended */
  | {
      seen: 'present';
      state: 'starting' | 'running' | 'stopped' | 'failed';
      reason?: string;
      exitCode?: number;
      endpoint?: string;
      /** what the driver needs to find the session again */
      ref?: DriverRef;
      /** its removal was asked for and is under way */
      ending: boolean;
      /**
       * The user's last input, where the driver can ask the session's streamer (the local
       * runner; in a pod the operator asks it): null = never any, undefined = unknown.
       */
      lastInputMs?: number | null;
      /** when the streamer was asked for lastInputMs (an older answer proves less) */
      lastInputAskedMs?: number;
    };

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
 * One small contract, many drivers (local processes, Kubernetes), in the manner of
 * JupyterHub's Spawner: act (launch, terminate), observe, and say what changed. Every
 * decision (what to do next with a session) is the control plane's: see
 * sessions/next-step.ts.
 */
export interface ClusterDriver {
  /**
   * Idempotent: launching a session the cluster already runs changes nothing. Resolves
   * once the cluster has accepted it; throws `LaunchRefused` when the cluster never will,
   * any other error when it may later (the control plane retries with backoff).
   */
  launch(spec: LaunchSpec): Promise<void>;
  /**
   * Asks the cluster to remove what it runs (or keeps) for the session; idempotent, and
   * resolved once asked (the removal shows in later observations). Throws when the
   * cluster could not be asked (retried).
   */
  terminate(session: SessionAddress): Promise<void>;
  /** What the cluster runs for the session, from the driver's watches and memory. */
  observe(session: SessionAddress): Observation;
  /**
   * Calls `listener` when what the driver observes of a session may have changed (null:
   * of every session, e.g. the cluster came back). Returns the unsubscribe.
   */
  onChange(listener: (sessionId: string | null) => void): () => void;
  /**
   * The sessions the cluster runs or keeps something for (what a crash may have left);
   * null while the driver cannot tell (the cluster has not answered).
   */
  present(): string[] | null;
  /** Live where the driver can see it (Kubernetes: kept current by watches, no request). */
  capacity(): Promise<Capacity>;
  /** Stops watching. Sessions keep running unless `terminate` is set. */
  close(opts?: { terminate?: boolean }): Promise<void>;
}

/** Which session a call is about, and what was recorded to find it. */
export interface SessionAddress {
  sessionId: string;
  /** null for what a cluster runs for no session of Floe's (an orphan) */
  tenantId: string | null;
  ref: DriverRef | null;
  /**
   * Floe's records have it active: what the cluster runs for it is taken over (adopted),
   * and what runs for a session that is not is only there to be removed
   */
  active: boolean;
  /** the app's idle timeout, for drivers that watch input themselves */
  idleTimeoutSeconds?: number | null;
}

/** A launch the cluster will never accept (a bad spec, a refusal): the session fails. */
export class LaunchRefused extends Error {}
