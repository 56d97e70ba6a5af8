// A cluster's GPUs by SKU, from its Nodes and the Pods outside Floe: pure, so that the
// informers' caches can be folded into it at any moment without a request.
import { GPU_RESOURCE, GPU_SKU_LABEL, LABELS } from '@floe/operator/crd';

/** The fields of a Node this reads (the watch's JSON and the client's objects agree). */
export interface NodeLike {
  metadata?: { name?: string; labels?: Record<string, string> };
  spec?: { unschedulable?: boolean };
  status?: {
    allocatable?: Record<string, string>;
    conditions?: { type: string; status: string }[];
  };
}

interface ContainerLike {
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}

export interface PodLike {
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  spec?: { nodeName?: string; containers?: ContainerLike[]; initContainers?: ContainerLike[] };
  status?: { phase?: string };
}

export interface GpuCapacity {
  sku: string;
  /** on Ready, schedulable nodes labelled with the SKU */
  allocatable: number;
  /** requested by running or pending pods bound to those nodes that are not Floe sessions */
  heldByOthers: number;
}

/** A whole count of an extended resource ("8"); anything else counts as none. */
function whole(quantity: string | undefined): number {
  const n = Number(quantity);
  return Number.isInteger(n) && n > 0 ? n : 0;
}

function usable(node: NodeLike): boolean {
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  return ready?.status === 'True' && !node.spec?.unschedulable;
}

/** GPUs a container asks for: an extended resource's request defaults to its limit. */
function containerGpus(c: ContainerLike): number {
  return whole(c.resources?.requests?.[GPU_RESOURCE] ?? c.resources?.limits?.[GPU_RESOURCE]);
}

/** What the scheduler reserves for a pod: the larger of its containers' sum and any init container. */
export function podGpus(pod: PodLike): number {
  const sum = (pod.spec?.containers ?? []).reduce((n, c) => n + containerGpus(c), 0);
  const init = Math.max(0, ...(pod.spec?.initContainers ?? []).map(containerGpus));
  return Math.max(sum, init);
}

/** Pods whose GPUs the control plane does not already count as its own sessions'. */
export function isForeignGpuPod(pod: PodLike): boolean {
  const phase = pod.status?.phase;
  return (
    pod.metadata?.labels?.[LABELS.session] === undefined &&
    phase !== 'Succeeded' &&
    phase !== 'Failed' &&
    podGpus(pod) > 0
  );
}

/**
 * GPUs by SKU, sorted by SKU: allocatable on usable nodes, and what foreign pods bound to
 * them request. A pod not yet bound to a node holds nothing yet (the scheduler decides).
 */
export function gpuCapacity(nodes: Iterable<NodeLike>, pods: Iterable<PodLike>): GpuCapacity[] {
  const skuOfNode = new Map<string, string>();
  const bySku = new Map<string, GpuCapacity>();
  for (const node of nodes) {
    const sku = node.metadata?.labels?.[GPU_SKU_LABEL];
    const count = whole(node.status?.allocatable?.[GPU_RESOURCE]);
    if (!sku || count === 0 || !usable(node)) continue;
    skuOfNode.set(node.metadata?.name ?? '', sku);
    const entry = bySku.get(sku) ?? { sku, allocatable: 0, heldByOthers: 0 };
    entry.allocatable += count;
    bySku.set(sku, entry);
  }
  for (const pod of pods) {
    const sku = skuOfNode.get(pod.spec?.nodeName ?? '');
    if (!sku || !isForeignGpuPod(pod)) continue;
    (bySku.get(sku) as GpuCapacity).heldByOthers += podGpus(pod);
  }
  return [...bySku.values()].sort((a, b) => a.sku.localeCompare(b.sku));
}
