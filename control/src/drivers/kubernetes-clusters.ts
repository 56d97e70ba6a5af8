import type { Logger } from 'pino';
import type { clusters } from '../db/schema.ts';
import type { Metrics } from '../metrics.ts';
import type { SecretBox } from '../secrets.ts';
import type { Supervisor } from '../sessions/supervisor.ts';
import type { ClusterStatus } from './driver.ts';
import type { Backoff, KubernetesDriver } from './kubernetes.ts';

/**
 * The Kubernetes client (@kubernetes/client-node, about 75 MB of RSS once imported) is
 * loaded the first time a cluster is connected, not when the control plane starts: most
 * control planes attach no Kubernetes cluster, and an idle one stays small.
 */
export const loadKubernetes = async () => ({
  ...(await import('./kubernetes/kubeconfig.ts')),
  ...(await import('./kubernetes.ts')),
});

type ClusterRow = typeof clusters.$inferSelect;

interface Connected {
  name: string;
  labels: Record<string, string>;
  driver: KubernetesDriver;
}

/** What a kubeconfig is sealed to: a sealed value copied to another cluster's row won't open. */
export const kubeconfigContext = (clusterId: string) => `cluster:${clusterId}:kubeconfig`;

/**
 * The drivers of the registered Kubernetes clusters: one per cluster with credentials,
 * attached to the supervisor when the cluster is registered (or at start), replaced when
 * its kubeconfig is, detached when it is deregistered.
 */
export class KubernetesClusters {
  private readonly connected = new Map<string, Connected>();
  private readonly deps: {
    supervisor: Supervisor;
    secrets: SecretBox;
    log: Logger;
    metrics: Metrics;
    backoff?: Backoff;
  };

  constructor(deps: KubernetesClusters['deps']) {
    this.deps = deps;
  }

  /**
   * Watches the cluster and supervises its sessions (reconciled against what it runs);
   * a cluster already connected is reconnected with its current credentials.
   */
  async connect(row: ClusterRow): Promise<void> {
    if (row.driver !== 'kubernetes' || !row.kubeconfigSealed || row.deletedAt) return;
    await this.disconnect(row.id);
    const { supervisor, secrets, log, metrics } = this.deps;
    const { parseKubeconfig, KubernetesDriver } = await loadKubernetes();
    const text = secrets.open(row.kubeconfigSealed, kubeconfigContext(row.id));
    const parsed = text === null ? null : parseKubeconfig(text);
    if (!parsed?.ok) {
      log.error(
        { cluster: row.name },
        'the kubeconfig of cluster %s cannot be opened (another FLOE_SECRET_KEY?) or read; ' +
          'its sessions are not supervised until a PATCH gives a new one',
        row.name,
      );
      return;
    }
    const entry = { name: row.name, labels: row.labels } as Connected;
    entry.driver = new KubernetesDriver({
      name: row.name,
      kubeConfig: parsed.kubeConfig,
      labels: () => entry.labels,
      log,
      backoff: this.deps.backoff,
      countRequest: (verb, resource) =>
        metrics.kubeRequests.inc({ cluster: row.name, verb, resource }),
    });
    this.connected.set(row.id, entry);
    await supervisor.attach(row.id, entry.driver);
  }

  /** Labels changed (e.g. floe.dev/storage-class): later launches use the new ones. */
  relabel(row: ClusterRow) {
    const entry = this.connected.get(row.id);
    if (entry) entry.labels = row.labels;
  }

  async disconnect(clusterId: string): Promise<void> {
    if (!this.connected.delete(clusterId)) return;
    await this.deps.supervisor.detach(clusterId);
  }

  status(clusterId: string): ClusterStatus | null {
    return this.connected.get(clusterId)?.driver.status() ?? null;
  }

  /** floe_cluster_up: 1 per connected cluster, 0 for the others */
  up(): Record<string, number> {
    return Object.fromEntries(
      [...this.connected.values()].map((c) => [c.name, c.driver.status() === 'connected' ? 1 : 0]),
    );
  }
}
