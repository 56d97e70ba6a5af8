// The control plane's kubernetes driver and the operator together, with no stand-in: two
// real testbed clusters (kube-apiserver, controller-manager, scheduler, etcd; KWOK GPU nodes;
// Istio's CRDs; a pool of volumes) in different regions with different GPU SKUs, one
// operator in each (pf-eu's in-process, pf-us's a child process so that it can be killed),
// and the control plane in-process on PGlite. Everything is driven through the public API.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type Operator, startOperator } from '@floe/operator';
import {
  GPU_SKU_LABEL,
  homeClaimName,
  LABELS,
  podName,
  sessionCrd,
  tenantNamespace,
} from '@floe/operator/crd';
import {
  freePort,
  type KubernetesCluster,
  type KubernetesClusters,
  startKubernetesClusters,
} from '@floe/testbed';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  eventually,
  freshDatabase,
  startTestControlPlane,
  type TestControlPlane,
} from '../../control/test/harness.ts';

// biome-ignore lint/suspicious/noExplicitAny: API and kubectl JSON, asserted on field by field
type Json = any;

const run = promisify(execFile);
const workDir = join(tmpdir(), 'floe-platform-k8s');
const OPERATOR_MAIN = fileURLToPath(import.meta.resolve('@floe/operator')).replace(
  /index\.ts$/,
  'main.ts',
);
const LEASE_S = 3;
const quiet = pino({ level: process.env.FLOE_TEST_LOG ?? 'silent' });

let k8s: KubernetesClusters;
let eu: KubernetesCluster;
let us: KubernetesCluster;
let t: TestControlPlane;
let euOperator: Operator | undefined;
let usOperator: ChildProcess | undefined;
const children: ChildProcess[] = [];

const kubectl = (c: KubernetesCluster, args: string[], input?: string) =>
  k8s.kubectl(c, args, input);
const json = async (c: KubernetesCluster, args: string[]): Promise<Json> =>
  JSON.parse(await kubectl(c, [...args, '-o', 'json']));
/** the object, or null when it does not exist (any other error fails) */
async function maybe(c: KubernetesCluster, args: string[]): Promise<Json | null> {
  try {
    return await json(c, args);
  } catch (err) {
    if (/NotFound|not found/.test((err as Error).message)) return null;
    throw err;
  }
}

/** Stops or starts every component of a testbed cluster, as an outage would. */
async function kwokctl(c: KubernetesCluster, verb: 'stop' | 'start') {
  await run(k8s.binaries.paths.kwokctl, ['--name', c.name, verb, 'cluster'], {
    env: {
      ...process.env,
      KWOK_WORKDIR: join(workDir, 'kwok'),
      PATH: `${dirname(k8s.binaries.paths.kubectl)}:${process.env.PATH ?? ''}`,
    },
    timeout: 60_000,
  });
}

/** pf-us's operator: a process of its own, with a short Lease so that a successor takes over fast. */
async function startUsOperator(id: string): Promise<ChildProcess> {
  const port = await freePort();
  const log = openSync(join(workDir, `operator-${id}.log`), 'w');
  const child = spawn(
    process.execPath,
    [
      OPERATOR_MAIN,
      `--kubeconfig=${us.kubeconfig}`,
      `--id=${id}`,
      `--metrics-addr=127.0.0.1:${port}`,
      `--lease-duration=${LEASE_S}`,
      '--renew-deadline=2',
      '--retry-period=0.5',
      '--log-level=debug',
    ],
    { stdio: ['ignore', log, log] },
  );
  children.push(child);
  await eventually(
    () =>
      fetch(`http://127.0.0.1:${port}/healthz`)
        .then((r) => r.ok)
        .catch(() => false),
    20_000,
  );
  return child;
}

beforeAll(async () => {
  k8s = await startKubernetesClusters({
    workDir,
    istio: true,
    storage: { pvs: 4, size: '1Gi' },
    onProgress: () => {},
    clusters: [
      {
        name: 'pf-eu',
        region: 'eu-west',
        gpuNodes: [{ sku: 'a100', count: 1, gpusPerNode: 4 }],
        cpuNodes: 0,
      },
      {
        name: 'pf-us',
        region: 'us-east',
        gpuNodes: [
          { sku: 'l4', count: 1, gpusPerNode: 4 },
          { sku: 'a100', count: 1, gpusPerNode: 2 },
        ],
        cpuNodes: 1,
      },
    ],
  });
  [eu, us] = k8s.clusters as [KubernetesCluster, KubernetesCluster];
  for (const c of k8s.clusters) {
    await kubectl(c, ['apply', '-f', '-'], JSON.stringify(sessionCrd));
    await kubectl(c, ['wait', '--for=condition=Established', 'crd/sessions.floe.dev']);
  }
  euOperator = await startOperator({
    kubeconfig: eu.kubeconfig,
    logger: quiet.child({ cluster: eu.name }),
    config: { leaderElect: false, metricsAddr: '127.0.0.1:0', id: 'pf-eu-operator' },
  });
  usOperator = await startUsOperator('pf-us-1');
  t = await startTestControlPlane({
    ...(await freshDatabase('pglite')),
    FLOE_KUBE_RETRY_MAX_MS: '500',
  });
}, 240_000);

afterAll(async () => {
  await t?.close({ keepSessions: true });
  await euOperator?.close();
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  k8s?.stop();
}, 60_000);

// ---------------------------------------------------------------------------------------
// API helpers

const ids: Record<string, string> = {}; // tenant slug → tenant id, `<slug>/user` → user id

async function seed(slug: string, allowedRegions: string[], quotas: object = {}) {
  const tenant = await t.call('POST', '/v1/tenants', {
    body: { slug, name: slug.toUpperCase(), allowedRegions, quotas },
  });
  expect(tenant.status).toBe(201);
  ids[slug] = tenant.body.id;
  const user = await t.call('POST', `/v1/tenants/${slug}/users`, {
    body: { email: `ada@${slug}.test`, role: 'member' },
  });
  expect(user.status).toBe(201);
  ids[`${slug}/user`] = user.body.id;
  const gpuApp = (appSlug: string, sku: string, count: number) => ({
    slug: appSlug,
    name: appSlug.toUpperCase(),
    image: 'floe/desk:1',
    resources: { cpu: '1', memory: '1Gi', gpus: { sku, count } },
    persistence: { size: '1Gi' },
  });
  const apps = [
    gpuApp('a100', 'a100', 1),
    gpuApp('l4', 'l4', 1),
    { ...gpuApp('a100x2', 'a100', 2), persistence: null },
    { ...gpuApp('a100x4', 'a100', 4), persistence: null },
    { slug: 'cpu', name: 'CPU', image: 'floe/desk:1', resources: { cpu: '100m', memory: '128Mi' } },
  ];
  for (const app of apps) {
    const r = await t.call('POST', `/v1/tenants/${slug}/apps`, { body: app });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
  }
}

const launch = (slug: string, app: string, region?: string) =>
  t.call('POST', `/v1/tenants/${slug}/sessions`, {
    body: { app, user: `ada@${slug}.test`, ...(region && { region }) },
  });
const session = async (slug: string, id: string): Promise<Json> =>
  (await t.call('GET', `/v1/tenants/${slug}/sessions/${id}`)).body;
const clusterId = async (name: string): Promise<string> =>
  (await t.call('GET', `/v1/clusters/${name}`)).body.id;

/** Waits (bounded) for the API's session to be in `state`, and returns it. */
async function reaches(slug: string, id: string, state: string, ms = 20_000): Promise<Json> {
  let last: Json;
  try {
    return await eventually(async () => {
      last = await session(slug, id);
      return last.state === state ? last : undefined;
    }, ms);
  } catch {
    throw new Error(`session ${id} never became ${state}: ${JSON.stringify(last)}`);
  }
}

const pod = (c: KubernetesCluster, slug: string, id: string) =>
  maybe(c, ['get', 'pod', podName(id), '-n', tenantNamespace(ids[slug] as string)]);
const sessionResource = (c: KubernetesCluster, slug: string, id: string) =>
  maybe(c, ['get', 'session', id, '-n', tenantNamespace(ids[slug] as string)]);

/**
 * The session runs on `c`: API running with the operator's endpoint, pod Running on a node of
 * `c`'s region with the `sku` label (any node when null).
 */
async function runsOn(c: KubernetesCluster, slug: string, id: string, sku: string | null) {
  const s = await reaches(slug, id, 'running');
  expect(s.clusterId).toBe(await clusterId(c.name));
  const resource = await sessionResource(c, slug, id);
  expect(resource?.status?.phase).toBe('Running');
  expect(resource.status.endpoint).toMatch(/^http:\/\/floe-/);
  expect(s.endpoint).toBe(resource.status.endpoint);
  const p = await pod(c, slug, id);
  expect(p?.status?.phase).toBe('Running');
  expect(resource.status.node).toBe(p.spec.nodeName);
  const node = await json(c, ['get', 'node', p.spec.nodeName]);
  expect(node.metadata.labels['topology.kubernetes.io/region']).toBe(c.region);
  // a CPU-only session may land on any node
  if (sku) expect(node.metadata.labels[GPU_SKU_LABEL]).toBe(sku);
  return { session: s, pod: p };
}

async function stop(c: KubernetesCluster, slug: string, id: string) {
  expect((await t.call('DELETE', `/v1/tenants/${slug}/sessions/${id}`)).status).toBe(202);
  await reaches(slug, id, 'stopped');
  await eventually(async () => (await sessionResource(c, slug, id)) === null);
  await eventually(async () => (await pod(c, slug, id)) === null);
}

// ---------------------------------------------------------------------------------------

describe('control plane + operator on two Kubernetes clusters', () => {
  let euA100: string; // globex's a100 session in pf-eu, with a home volume

  it('registers both clusters and sees their GPUs', async () => {
    for (const c of [eu, us]) {
      const r = await t.call('POST', '/v1/clusters', {
        body: {
          name: c.name,
          region: c.region,
          driver: 'kubernetes',
          kubeconfig: readFileSync(c.kubeconfig, 'utf8'),
        },
      });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
    }
    const gpus = async (name: string) =>
      ((await t.call('GET', `/v1/clusters/${name}`)).body.capacity?.gpus ?? []).map(
        (g: Json) => `${g.sku}:${g.allocatable}`,
      );
    await eventually(async () => (await gpus('pf-eu')).join() === 'a100:4');
    await eventually(async () => (await gpus('pf-us')).sort().join() === 'a100:2,l4:4');
    await seed('globex', []);
    await seed('acme', ['eu-west'], { maxGpus: 2 });
  });

  it('launches on the cluster of the right region and SKU; pod Running → running with the operator’s endpoint', async () => {
    const a100 = await launch('globex', 'a100', 'eu-west');
    expect(a100.status, JSON.stringify(a100.body)).toBe(201);
    expect(a100.body.clusterId).toBe(await clusterId('pf-eu'));
    const l4 = await launch('globex', 'l4', 'eu-west'); // only pf-us has L4s
    expect(l4.status, JSON.stringify(l4.body)).toBe(201);
    expect(l4.body.clusterId).toBe(await clusterId('pf-us'));

    euA100 = a100.body.id;
    const onEu = await runsOn(eu, 'globex', euA100, 'a100');
    const onUs = await runsOn(us, 'globex', l4.body.id, 'l4');
    expect(onEu.pod.spec.containers[0].resources.limits['nvidia.com/gpu']).toBe('1');
    expect(onUs.pod.metadata.labels).toMatchObject({
      [LABELS.session]: l4.body.id,
      [LABELS.app]: 'l4',
    });
    await stop(us, 'globex', l4.body.id);
  });

  it('holds allowed regions, the tenant’s GPU quota (429) and GPU capacity (503 or elsewhere)', async () => {
    // acme may run in eu-west only, where there is no L4
    const l4 = await launch('acme', 'l4');
    expect(l4.status).toBe(422);
    expect(l4.body.error.code).toBe('unplaceable');
    // acme's a100 sessions go to eu-west even when us-east is asked for
    const first = await launch('acme', 'a100', 'us-east');
    const second = await launch('acme', 'a100');
    for (const r of [first, second]) {
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      expect(r.body.clusterId).toBe(await clusterId('pf-eu'));
    }
    const third = await launch('acme', 'a100');
    expect(third.status).toBe(429);
    expect(third.body.error.quota).toBe('tenant.maxGpus');
    await runsOn(eu, 'acme', first.body.id, 'a100');
    await runsOn(eu, 'acme', second.body.id, 'a100');
    // the operator mirrors the quota into the namespace
    const quota = await json(eu, [
      'get',
      'resourcequota',
      'floe-gpu-quota',
      '-n',
      tenantNamespace(ids.acme as string),
    ]);
    expect(quota.spec.hard['requests.nvidia.com/gpu']).toBe('2');

    // pf-eu: 3 of 4 A100s taken; pf-us: 2 A100s free
    const four = await launch('globex', 'a100x4', 'eu-west');
    expect(four.status, JSON.stringify(four.body)).toBe(503);
    expect(four.body.error.code).toBe('no_capacity');
    const two = await launch('globex', 'a100x2', 'eu-west');
    expect(two.status, JSON.stringify(two.body)).toBe(201);
    expect(two.body.clusterId).toBe(await clusterId('pf-us'));
    await runsOn(us, 'globex', two.body.id, 'a100');

    await Promise.all([
      stop(eu, 'acme', first.body.id),
      stop(eu, 'acme', second.body.id),
      stop(us, 'globex', two.body.id),
    ]);
  });

  it('stops by deleting pod and Session but keeps the home claim, which a relaunch mounts again', async () => {
    const ns = tenantNamespace(ids.globex as string);
    const claimName = homeClaimName(ids['globex/user'] as string, 'a100');
    const before = await json(eu, ['get', 'pvc', claimName, '-n', ns]);
    expect(before.status.phase).toBe('Bound');
    const mounted = (p: Json) =>
      p.spec.volumes.find((v: Json) => v.persistentVolumeClaim)?.persistentVolumeClaim.claimName;
    expect(mounted(await pod(eu, 'globex', euA100))).toBe(claimName);

    await stop(eu, 'globex', euA100);
    const kept = await json(eu, ['get', 'pvc', claimName, '-n', ns]);
    expect(kept.metadata.uid).toBe(before.metadata.uid);
    expect(kept.metadata.deletionTimestamp).toBeUndefined();
    expect(kept.status.phase).toBe('Bound');
    expect(kept.spec.volumeName).toBe(before.spec.volumeName);

    const again = await launch('globex', 'a100', 'eu-west');
    expect(again.status, JSON.stringify(again.body)).toBe(201);
    euA100 = again.body.id;
    const { pod: p } = await runsOn(eu, 'globex', euA100, 'a100');
    expect(mounted(p)).toBe(claimName);
    const after = await json(eu, ['get', 'pvc', claimName, '-n', ns]);
    expect(after.metadata.uid).toBe(before.metadata.uid);
    expect(after.spec.volumeName).toBe(before.spec.volumeName);
  });

  it('makes a stopped cluster’s sessions unknown, places elsewhere, and recovers on its return', async () => {
    await kwokctl(eu, 'stop');
    let restarted = false;
    try {
      await reaches('globex', euA100, 'unknown', 20_000);
      // globex prefers eu-west, which is down: pf-us's A100s take it
      const elsewhere = await launch('globex', 'a100', 'eu-west');
      expect(elsewhere.status, JSON.stringify(elsewhere.body)).toBe(201);
      expect(elsewhere.body.clusterId).toBe(await clusterId('pf-us'));
      // acme may only run in eu-west: a clear 503
      const refused = await launch('acme', 'a100');
      expect(refused.status).toBe(503);
      expect(refused.body.error.code).toBe('no_capacity');
      expect(refused.body.error.message).toMatch(/pf-eu is unreachable/);
      await runsOn(us, 'globex', elsewhere.body.id, 'a100');

      await kwokctl(eu, 'start');
      restarted = true;
      await reaches('globex', euA100, 'running', 60_000);
      const events = (await session('globex', euA100)).events.map((e: Json) => e.to);
      expect(events.slice(-3)).toEqual(['running', 'unknown', 'running']);
      expect((await sessionResource(eu, 'globex', euA100))?.status?.phase).toBe('Running');
      await stop(us, 'globex', elsewhere.body.id);
    } finally {
      if (!restarted) await kwokctl(eu, 'start');
    }
  }, 120_000);

  it('converges when the operator is killed while it reconciles a batch of launches', async () => {
    const ns = tenantNamespace(ids.globex as string);
    const cpuPods = async () =>
      (await json(us, ['get', 'pods', '-n', ns, '-l', `${LABELS.app}=cpu`])).items as Json[];
    // the launches go on while the operator is killed: as soon as it has made a first pod
    const launching = Promise.all(
      Array.from({ length: 10 }, () => launch('globex', 'cpu', 'us-east')),
    );
    await eventually(async () => (await cpuPods()).length > 0, 20_000);
    const killed = usOperator as ChildProcess;
    killed.kill('SIGKILL');
    await new Promise((resolve) => killed.once('exit', resolve));
    const launches = await launching;
    const sessionIds = launches.map((r) => {
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      return r.body.id as string;
    });
    for (const r of launches) expect(r.body.clusterId).toBe(await clusterId('pf-us'));
    const phases = ((await json(us, ['get', 'sessions', '-n', ns])).items as Json[])
      .filter((s) => sessionIds.includes(s.metadata.name))
      .map((s) => s.status?.phase ?? 'none');
    console.log(`operator killed; Session phases then: ${phases.sort().join(' ')}`);

    usOperator = await startUsOperator('pf-us-2');
    for (const id of sessionIds) await runsOn(us, 'globex', id, null);
    const pods = await cpuPods();
    expect(pods.map((p) => p.metadata.name).sort()).toEqual(sessionIds.map(podName).sort());
    const sessions = (await json(us, ['get', 'sessions', '-n', ns])).items as Json[];
    for (const id of sessionIds) {
      const s = sessions.find((x) => x.metadata.name === id);
      const p = pods.find((x) => x.metadata.name === podName(id));
      expect(p.metadata.ownerReferences[0].uid).toBe(s.metadata.uid);
    }
  }, 60_000);
});
