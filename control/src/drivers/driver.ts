import type { DriverRef } from '../db/schema.ts';

/** What a driver needs to run one session; copied from the app at launch. */
export interface LaunchSpec {
  sessionId: string;
  tenantId: string;
  userId: string;
  app: {
    slug: string;
    image: string | null;
    command: string[] | null;
    env: Record<string, string>;
    cpu: string;
    memory: string;
    gpuSku: string | null;
    gpuCount: number;
  };
}

/** A driver's report of a session; the control plane turns it into a state transition. */
export interface DriverEvent {
  sessionId: string;
  state: 'starting' | 'running' | 'stopped' | 'failed';
  reason?: string;
  exitCode?: number;
  endpoint?: string;
  /** what the driver needs to find the session again after a control-plane restart */
  ref?: DriverRef;
}

export interface Capacity {
  gpus: { sku: string; count: number }[];
  maxSessions: number | null;
}

/**
 * One small contract, many drivers (local processes now, Kubernetes later). Calls return
 * once the request is accepted; progress arrives asynchronously through `watch`.
 */
export interface ClusterDriver {
  launch(spec: LaunchSpec): Promise<void>;
  terminate(sessionId: string, ref: DriverRef | null): Promise<void>;
  /** Re-attaches to a session an earlier control-plane process started; reports through watch. */
  adopt(sessionId: string, ref: DriverRef | null): Promise<void>;
  watch(listener: (event: DriverEvent) => void): () => void;
  capacity(): Promise<Capacity>;
  /** Stops supervising. Sessions keep running unless `terminate` is set. */
  close(opts?: { terminate?: boolean }): Promise<void>;
}
