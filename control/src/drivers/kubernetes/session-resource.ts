// The control plane's side of the Session contract (operator/src/crd.ts): the resource a
// launch writes, and what a Session's status means for the session's state. Pure.
import {
  API_VERSION,
  KIND,
  LABELS,
  MANAGED_BY_CONTROL,
  type Session,
  type SessionSpec,
  tenantNamespace,
} from '@floe/operator/crd';
import type { LaunchSpec, Observation } from '../driver.ts';

/** What a Session's status says of its session. */
export type SessionReport = Pick<
  Extract<Observation, { seen: 'present' }>,
  'state' | 'reason' | 'exitCode' | 'endpoint'
>;

/** Cluster label naming the StorageClass of home volumes there (else the cluster's default). */
export const STORAGE_CLASS_LABEL = 'floe.dev/storage-class';

/** The tenant's namespace, as the control plane applies it (server-side) before a launch. */
export function namespaceObject(tenantId: string) {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: tenantNamespace(tenantId),
      labels: { [LABELS.managedBy]: MANAGED_BY_CONTROL, [LABELS.tenant]: tenantId },
    },
  };
}

/** The Session resource of a launch, named by the session's id in its tenant's namespace. */
export function sessionObject(
  spec: LaunchSpec,
  clusterLabels: Record<string, string>,
): Session & { spec: SessionSpec } {
  const { app } = spec;
  if (!app.image) throw new Error('a Kubernetes session needs the app’s image');
  const storageClassName = clusterLabels[STORAGE_CLASS_LABEL];
  // the maximum lifetime is not the operator's: the control plane enforces it
  const timeouts = {
    ...(app.idleTimeoutSeconds !== null && { idleSeconds: app.idleTimeoutSeconds }),
  };
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: {
      name: spec.sessionId,
      namespace: tenantNamespace(spec.tenantId),
      labels: {
        [LABELS.managedBy]: MANAGED_BY_CONTROL,
        [LABELS.session]: spec.sessionId,
        [LABELS.tenant]: spec.tenantId,
        [LABELS.user]: spec.userId,
        [LABELS.app]: app.slug,
      },
    },
    spec: {
      tenant: { id: spec.tenantId, name: spec.tenant.name, maxGpus: spec.tenant.maxGpus },
      user: { id: spec.userId, name: spec.user.email },
      app: {
        slug: app.slug,
        image: app.image,
        ...(app.command && { command: app.command }),
        ...(Object.keys(app.env).length > 0 && { env: app.env }),
        resources: {
          cpu: app.cpu,
          memory: app.memory,
          gpu: app.gpuSku && app.gpuCount > 0 ? { count: app.gpuCount, sku: app.gpuSku } : null,
        },
        ...(app.scheduling && { scheduling: app.scheduling }),
      },
      persistence: app.persistenceSize
        ? { size: app.persistenceSize, ...(storageClassName && { storageClassName }) }
        : null,
      ...(Object.keys(timeouts).length > 0 && { timeouts }),
      ...((app.videoCodecs || spec.transfer) && {
        streamer: {
          ...(app.videoCodecs && { codecs: app.videoCodecs }),
          ...(spec.transfer && streamerTransfer(spec.transfer)),
        },
      }),
    },
  };
}

/** The Session's streamer settings for clipboard and files (only what differs from allowed). */
function streamerTransfer(t: NonNullable<LaunchSpec['transfer']>): SessionSpec['streamer'] {
  return {
    clipboard: t.clipboard,
    files: t.files,
    ...(t.maxFileBytes !== null && { maxFileBytes: t.maxFileBytes }),
    ...(t.maxHomeBytes !== null && { maxHomeBytes: t.maxHomeBytes }),
  };
}

/**
 * What a Session's status says of its session; null while it says nothing new (a Session
 * being deleted keeps its last phase until it is gone).
 */
export function sessionReport(session: Pick<Session, 'metadata' | 'status'>): SessionReport | null {
  const status = session.status ?? {};
  const why = [status.reason, status.message].filter(Boolean).join(': ');
  // the operator's exit code of the container that ended the session, when one did
  const exitCode = (status as { exitCode?: unknown }).exitCode;
  const code = typeof exitCode === 'number' ? { exitCode } : {};
  switch (status.phase) {
    case undefined:
    case 'Pending':
    case 'Starting':
      return { state: 'starting' };
    case 'Running':
      // running means reachable: without an endpoint it is still starting
      return status.endpoint
        ? { state: 'running', endpoint: status.endpoint }
        : { state: 'starting' };
    case 'Stopped':
      return { state: 'stopped', reason: why || 'the session stopped', ...code };
    case 'Failed':
      return { state: 'failed', reason: why || 'the session failed', ...code };
    default:
      return null;
  }
}
