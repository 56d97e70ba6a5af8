// Shared by the operator's integration tests: real clusters from the testbed (with Istio's
// CRDs and a pool of volumes), the Session CRD installed, and small helpers.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apply, connectKube, type Kube } from '@floe/kube/kube';
import { at, R } from '@floe/kube/resources';
import {
  type KubernetesCluster,
  type KubernetesClusterSpec,
  type KubernetesClusters,
  startKubernetesClusters,
} from '@floe/testbed';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import {
  SESSION_RESOURCE,
  type Session,
  type SessionSpec,
  sessionCrd,
  tenantNamespace,
} from '../src/crd.ts';
import { sessionObject } from './fixtures.ts';

export { sessionObject, sessionSpec } from './fixtures.ts';

export const quietLog = pino({ level: process.env.FLOE_TEST_LOG ?? 'silent' });

export async function startClusters(
  file: string,
  clusters: KubernetesClusterSpec[],
): Promise<KubernetesClusters> {
  const k8s = await startKubernetesClusters({
    workDir: join(tmpdir(), `floe-operator-${file}`),
    clusters,
    istio: true,
    storage: { pvs: 6 },
    onProgress: () => {},
  });
  try {
    for (const c of k8s.clusters) {
      const kube = kubeOf(c);
      await apply(kube, at(R.crd, undefined, sessionCrd.metadata.name), sessionCrd);
      kube.close();
      await k8s.kubectl(c, [
        'wait',
        '--for=condition=Established',
        `crd/${sessionCrd.metadata.name}`,
        '--timeout=60s',
      ]);
    }
  } catch (err) {
    k8s.stop();
    throw err;
  }
  return k8s;
}

export function kubeConfigOf(c: KubernetesCluster): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(c.kubeconfig);
  return kc;
}

export const kubeOf = (c: KubernetesCluster): Kube => connectKube(kubeConfigOf(c));

/** Polls `fn` until it returns something other than undefined, or fails after `ms`. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  ms = 30_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${ms} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** What the control plane does: the tenant namespace, then the Session. */
export async function createSession(kube: Kube, name: string, spec: SessionSpec): Promise<Session> {
  const ns = tenantNamespace(spec.tenant.id);
  await apply(kube, at(R.namespace, undefined, ns), {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: ns },
  });
  return kube.request<Session>('create', at(SESSION_RESOURCE, ns), {
    body: sessionObject(name, spec),
  });
}

export const getSession = (kube: Kube, ns: string, name: string) =>
  kube.request<Session>('get', at(SESSION_RESOURCE, ns, name));
