// Two real clusters (etcd, kube-apiserver, kube-controller-manager, kube-scheduler built from
// their Go modules, run by kwokctl) with fake GPU nodes driven by KWOK.
//
// The FIRST run builds those binaries from source into ~/.cache/floe/k8s/ (about 6 minutes on
// 2 cores, more on a slower machine or proxy; see testbed/k8s/README.md), hence the 60-minute
// beforeAll. Later runs reuse them and start both clusters in about 10 s.
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ensureKubernetesBinaries,
  type KubernetesCluster,
  type KubernetesClusters,
  startKubernetesClusters,
} from '../src/kubernetes.ts';

const buildTimeout = 60 * 60_000;
// each test waits on the clusters through kubectl calls bounded to 120 s
const testTimeout = 180_000;

let k8s: KubernetesClusters;
let other: KubernetesClusters | undefined;

beforeAll(async () => {
  const binaries = await ensureKubernetesBinaries({ onProgress: (line) => console.log(line) });
  // two independent starts at once, in different folders, as two test files in parallel
  // processes do: without the host-wide create lock their kwokctl would pick the same ports
  const started = await Promise.allSettled(
    [
      {
        // a fixed folder, so that clusters left by a crashed run are found and deleted
        workDir: join(tmpdir(), 'floe-k8s-test'),
        spec: { name: 'eu-west', region: 'eu-west', sku: 'a100' },
      },
      {
        workDir: join(tmpdir(), 'floe-k8s-test-2'),
        spec: { name: 'us-east', region: 'us-east', sku: 'l4' },
      },
    ].map(({ workDir, spec }) =>
      startKubernetesClusters({
        workDir,
        binaries,
        onProgress: (line) => console.log(line),
        istio: true,
        storage: { pvs: 3 },
        clusters: [
          {
            name: spec.name,
            region: spec.region,
            gpuNodes: [{ sku: spec.sku, count: 2, gpusPerNode: 8 }],
            cpuNodes: 1,
          },
        ],
      }),
    ),
  );
  const ok = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = started.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
  if (failed.length > 0) {
    for (const s of ok) s.stop();
    throw failed[0];
  }
  const [a, b] = ok as [KubernetesClusters, KubernetesClusters];
  other = b;
  // one object for the tests: kubectl takes the cluster's own kubeconfig
  k8s = { ...a, clusters: [...a.clusters, ...b.clusters] };
}, buildTimeout);

afterAll(() => {
  k8s?.stop();
  other?.stop();
});

interface Node {
  metadata: { name: string; labels: Record<string, string> };
  status: { capacity: Record<string, string>; conditions: { type: string; status: string }[] };
}
interface Pod {
  metadata: { name: string };
  spec: { nodeName?: string };
  status: { phase: string };
}

const cluster = (name: string) => k8s.clusters.find((c) => c.name === name)!;
const getJson = async <T>(c: KubernetesCluster, args: string[]) =>
  JSON.parse(await k8s.kubectl(c, ['get', ...args, '-o', 'json'])) as T;

describe('kubernetes testbed', () => {
  it(
    'runs the pinned release',
    async () => {
      const v = k8s.binaries.versions.kubernetes;
      expect(
        // spawns: kube-apiserver
        execFileSync(k8s.binaries.paths['kube-apiserver'], ['--version'], {
          encoding: 'utf8',
        }).trim(),
      ).toBe(`Kubernetes ${v}`);
      for (const c of k8s.clusters) {
        const { serverVersion } = JSON.parse(await k8s.kubectl(c, ['version', '-o', 'json'])) as {
          serverVersion: { gitVersion: string };
        };
        expect(serverVersion.gitVersion).toBe(v);
      }
    },
    testTimeout,
  );

  it.each([
    ['eu-west', 'a100'],
    ['us-east', 'l4'],
  ])(
    '%s has Ready fake GPU nodes (%s) with nvidia.com/gpu capacity',
    async (name, sku) => {
      const c = cluster(name);
      const { items } = await getJson<{ items: Node[] }>(c, ['nodes']);
      const gpu = items.filter((n) => n.metadata.labels['floe.dev/gpu-sku'] === sku);
      expect(gpu.map((n) => n.metadata.name).sort()).toEqual([
        `${name}-gpu-${sku}-0`,
        `${name}-gpu-${sku}-1`,
      ]);
      for (const n of gpu) {
        expect(n.status.capacity['nvidia.com/gpu']).toBe('8');
        expect(n.metadata.labels['topology.kubernetes.io/region']).toBe(name);
      }
      expect(items).toHaveLength(3); // plus the CPU-only node
      for (const n of items) {
        expect(n.status.conditions.find((x) => x.type === 'Ready')?.status).toBe('True');
      }
      // what a person would look at
      const table = await k8s.kubectl(c, ['get', 'nodes', '-L', 'floe.dev/gpu-sku']);
      expect(table).toMatch(new RegExp(`${name}-gpu-${sku}-0\\s+Ready.*${sku}`));
    },
    testTimeout,
  );

  it.each(['eu-west', 'us-east'])(
    '%s: a Deployment asking for nvidia.com/gpu runs on GPU nodes and is garbage-collected',
    async (name) => {
      const c = cluster(name);
      const deployment = {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'gpu-app', namespace: 'default' },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'gpu-app' } },
          template: {
            metadata: { labels: { app: 'gpu-app' } },
            spec: {
              containers: [
                {
                  name: 'app',
                  image: 'registry.invalid/floe/app:1', // never pulled: KWOK runs no containers
                  resources: { limits: { 'nvidia.com/gpu': '1' } },
                },
              ],
            },
          },
        },
      };
      await k8s.kubectl(c, ['apply', '-f', '-'], JSON.stringify(deployment));
      // available replicas = pods bound by the scheduler and made Ready by KWOK
      await k8s.kubectl(c, ['rollout', 'status', 'deployment/gpu-app', '--timeout=90s']);
      const pods = (await getJson<{ items: Pod[] }>(c, ['pods', '-l', 'app=gpu-app'])).items;
      expect(pods).toHaveLength(2);
      for (const p of pods) {
        expect(p.status.phase).toBe('Running');
        expect(p.spec.nodeName).toMatch(new RegExp(`^${name}-gpu-`));
      }

      await k8s.kubectl(c, ['delete', 'deployment', 'gpu-app']);
      // the ReplicaSet and its pods go through the controller-manager's garbage collector
      await k8s.kubectl(c, [
        'wait',
        '--for=delete',
        ...pods.map((p) => `pod/${p.metadata.name}`),
        '--timeout=90s',
      ]);
      expect(
        (await getJson<{ items: unknown[] }>(c, ['replicasets', '-l', 'app=gpu-app'])).items,
      ).toEqual([]);
    },
    testTimeout,
  );

  it(
    'leaves a pod asking for more GPUs than a node has Pending (Insufficient nvidia.com/gpu)',
    async () => {
      const c = cluster('eu-west');
      const pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'too-big', namespace: 'default' },
        spec: {
          containers: [
            {
              name: 'app',
              image: 'registry.invalid/floe/app:1',
              resources: { limits: { 'nvidia.com/gpu': '9' } },
            },
          ],
        },
      };
      await k8s.kubectl(c, ['apply', '-f', '-'], JSON.stringify(pod));
      await k8s.kubectl(c, [
        'wait',
        '--for=jsonpath={.status.conditions[?(@.type=="PodScheduled")].reason}=Unschedulable',
        'pod/too-big',
        '--timeout=60s',
      ]);
      const message = await k8s.kubectl(c, [
        'get',
        'pod/too-big',
        '-o',
        'jsonpath={.status.conditions[?(@.type=="PodScheduled")].message}',
      ]);
      expect(message).toMatch(/Insufficient nvidia\.com\/gpu/);
      await k8s.kubectl(c, ['delete', 'pod/too-big', '--wait']);
    },
    testTimeout,
  );

  it(
    'keeps the clusters independent',
    async () => {
      const eu = cluster('eu-west');
      const us = cluster('us-east');
      await k8s.kubectl(eu, ['create', 'configmap', 'only-in-eu', '--from-literal=x=1']);
      await expect(k8s.kubectl(us, ['get', 'configmap', 'only-in-eu'])).rejects.toThrow(/NotFound/);
      for (const c of [eu, us]) {
        const info = await getJson<{ data: { name: string; region: string } }>(c, [
          'configmap/floe-cluster',
          '--namespace=kube-public',
        ]);
        expect(info.data).toEqual({ name: c.name, region: c.region });
      }
      const euNodes = await getJson<{ items: Node[] }>(eu, ['nodes']);
      expect(euNodes.items.every((n) => n.metadata.name.startsWith('eu-west-'))).toBe(true);
    },
    testTimeout,
  );

  it.each(['eu-west', 'us-east'])(
    "%s serves Istio's CRDs: a VirtualService is stored and validated",
    async (name) => {
      const c = cluster(name);
      const crd = await getJson<{ status: { conditions: { type: string; status: string }[] } }>(c, [
        'crd',
        'virtualservices.networking.istio.io',
      ]);
      expect(crd.status.conditions.find((x) => x.type === 'Established')?.status).toBe('True');
      const vs = (http: unknown) => ({
        apiVersion: 'networking.istio.io/v1',
        kind: 'VirtualService',
        metadata: { name: 'vs', namespace: 'default' },
        spec: { hosts: ['*'], gateways: ['istio-system/gw'], http },
      });
      const route = [
        {
          match: [{ uri: { prefix: '/x/' } }],
          route: [{ destination: { host: 'svc', port: { number: 8080 } } }],
        },
      ];
      await k8s.kubectl(c, ['apply', '-f', '-'], JSON.stringify(vs(route)));
      const stored = await getJson<{ spec: { http: unknown } }>(c, ['virtualservice', 'vs']);
      expect(stored.spec.http).toEqual(route);
      // the published schema is in force, its CEL rules included
      const bad = [{ ...route[0], timeout: '0s' }];
      await expect(k8s.kubectl(c, ['apply', '-f', '-'], JSON.stringify(vs(bad)))).rejects.toThrow(
        /must be a valid duration greater than 1ms/,
      );
      await k8s.kubectl(c, ['delete', 'virtualservice', 'vs']);
    },
    testTimeout,
  );

  it(
    'binds a claim of the default StorageClass to a pooled volume and retains it',
    async () => {
      const c = cluster('eu-west');
      const claim = {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: { name: 'home', namespace: 'default' },
        // no storageClassName: the default class (floe-test) is filled in on admission
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
      };
      await k8s.kubectl(c, ['apply', '-f', '-'], JSON.stringify(claim));
      // the real PV controller of kube-controller-manager binds it
      await k8s.kubectl(c, [
        'wait',
        '--for=jsonpath={.status.phase}=Bound',
        'pvc/home',
        '--timeout=60s',
      ]);
      const bound = await getJson<{ spec: { volumeName: string; storageClassName: string } }>(c, [
        'pvc/home',
      ]);
      expect(bound.spec.storageClassName).toBe('floe-test');
      expect(bound.spec.volumeName).toMatch(/^eu-west-pv-[0-2]$/);
      await k8s.kubectl(c, ['delete', 'pvc/home', '--wait']);
      // Retain: the volume stays, Released, still naming its claim (its data is not reused)
      await k8s.kubectl(c, [
        'wait',
        '--for=jsonpath={.status.phase}=Released',
        `pv/${bound.spec.volumeName}`,
        '--timeout=60s',
      ]);
      const pv = await getJson<{ spec: { claimRef: { name: string } } }>(c, [
        `pv/${bound.spec.volumeName}`,
      ]);
      expect(pv.spec.claimRef.name).toBe('home');
      const pool = await getJson<{ items: unknown[] }>(c, ['pv', '-l', 'floe.dev/test-pool']);
      expect(pool.items).toHaveLength(3);
    },
    testTimeout,
  );
});
