// The kubernetes cluster driver against real API servers: two testbed clusters (kwokctl:
// etcd, kube-apiserver, controller-manager, scheduler; KWOK fake GPU nodes) in different
// regions with different GPU SKUs, the Session CRD installed in both.
//
// The operator is not part of this test: OPERATOR STAND-IN below plays its part by writing
// Session status with kubectl, as the operator will.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { sessionCrd, tenantNamespace } from '@floe/operator/crd';
import {
  type KubernetesCluster,
  type KubernetesClusters,
  startKubernetesClusters,
} from '@floe/testbed';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusters as clustersTable } from '../src/db/schema.ts';
import {
  DATABASES,
  eventually,
  freshDatabase,
  startTestControlPlane,
  type TestControlPlane,
} from './harness.ts';

const run = promisify(execFile);
const workDir = join(tmpdir(), 'floe-control-k8s-kubernetes-driver');
const EU = 'floe-cp-eu';
const US = 'floe-cp-us';

let k8s: KubernetesClusters;
let eu: KubernetesCluster;
let us: KubernetesCluster;
let env: Record<string, string>;
let t: TestControlPlane;

const kubectl = (c: KubernetesCluster, args: string[], input?: string) =>
  k8s.kubectl(c, args, input);
const json = async (c: KubernetesCluster, args: string[]) =>
  JSON.parse(await kubectl(c, [...args, '-o', 'json']));

/** OPERATOR STAND-IN: writes a Session's status as the operator would. */
const operatorStandIn = {
  setStatus: (c: KubernetesCluster, namespace: string, name: string, status: object) =>
    kubectl(c, [
      'patch',
      'session',
      name,
      '-n',
      namespace,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status }),
    ]),
};

/** Stops or starts every component of a testbed cluster, as an outage would. */
async function kwokctl(c: KubernetesCluster, verb: 'stop' | 'start') {
  const bin = k8s.binaries.paths.kwokctl;
  await run(bin, ['--name', c.name, verb, 'cluster'], {
    env: {
      ...process.env,
      KWOK_WORKDIR: join(workDir, 'kwok'),
      PATH: `${dirname(k8s.binaries.paths.kubectl)}:${process.env.PATH ?? ''}`,
    },
    timeout: 120_000,
  });
}

async function startClusters(): Promise<KubernetesClusters> {
  const spec = {
    workDir,
    onProgress: () => {},
    clusters: [
      {
        name: EU,
        region: 'eu-west',
        gpuNodes: [{ sku: 'a100', count: 2, gpusPerNode: 8 }],
        cpuNodes: 1,
      },
      {
        name: US,
        region: 'us-east',
        gpuNodes: [
          { sku: 'l4', count: 1, gpusPerNode: 4 },
          { sku: 'a100', count: 1, gpusPerNode: 8 },
        ],
        cpuNodes: 0,
      },
    ],
  };
  // another test file may be creating clusters at this moment (kwokctl picks ports by
  // looking at its own clusters only): a port clash is retried
  for (let attempt = 1; ; attempt++) {
    try {
      return await startKubernetesClusters(spec);
    } catch (err) {
      if (attempt === 3) throw err;
    }
  }
}

const register = (c: KubernetesCluster, name: string, region: string, labels = {}) =>
  t.call('POST', '/v1/clusters', {
    body: {
      name,
      region,
      driver: 'kubernetes',
      kubeconfig: readFileSync(c.kubeconfig, 'utf8'),
      labels,
    },
  });

beforeAll(async () => {
  k8s = await startClusters();
  [eu, us] = k8s.clusters as [KubernetesCluster, KubernetesCluster];
  for (const c of k8s.clusters) {
    await kubectl(c, ['apply', '-f', '-'], JSON.stringify(sessionCrd));
    await kubectl(c, [
      'wait',
      '--for=condition=Established',
      'crd/sessions.floe.dev',
      '--timeout=60s',
    ]);
  }
}, 300_000);

afterAll(() => k8s?.stop(), 120_000);

// biome-ignore lint/suspicious/noExplicitAny: API bodies
type Body = any;
let tenantId: string;
let globalTenantId: string;
const adminOf: Record<string, string> = {};

async function seed(slug: string, allowedRegions: string[], quotas: object = {}) {
  const tenant = await t.call('POST', '/v1/tenants', {
    body: { slug, name: slug.toUpperCase(), allowedRegions, quotas },
  });
  expect(tenant.status).toBe(201);
  expect(
    (
      await t.call('POST', `/v1/tenants/${slug}/users`, {
        body: { email: `ada@${slug}.test`, role: 'member' },
      })
    ).status,
  ).toBe(201);
  const apps = [
    {
      slug: 'a100',
      name: 'A100 desk',
      image: 'floe/desk:1',
      resources: { gpus: { sku: 'a100', count: 1 } },
    },
    {
      slug: 'l4x4',
      name: 'Four L4',
      image: 'floe/desk:1',
      command: ['startx'],
      env: { THEME: 'dark' },
      resources: { cpu: '2', memory: '8Gi', gpus: { sku: 'l4', count: 4 } },
      persistence: { size: '10Gi' },
      idleTimeoutSeconds: 900,
    },
  ];
  for (const app of apps) {
    expect((await t.call('POST', `/v1/tenants/${slug}/apps`, { body: app })).status).toBe(201);
  }
  const key = await t.call('POST', `/v1/tenants/${slug}/api-keys`, {
    body: { name: 'admin', role: 'tenant-admin' },
  });
  adminOf[slug] = key.body.token;
  return tenant.body.id as string;
}

const launch = (slug: string, app: string, region?: string) =>
  t.call('POST', `/v1/tenants/${slug}/sessions`, {
    body: { app, user: `ada@${slug}.test`, region },
  });
const session = async (slug: string, id: string): Promise<Body> =>
  (await t.call('GET', `/v1/tenants/${slug}/sessions/${id}`)).body;
const stateOf = async (slug: string, id: string) => (await session(slug, id)).state;
const cluster = async (name: string): Promise<Body> =>
  (await t.call('GET', `/v1/clusters/${name}`)).body;
const sessionResource = (c: KubernetesCluster, tenant: string, id: string) =>
  json(c, ['get', 'session', id, '-n', tenantNamespace(tenant)]).catch(() => null);

// one control plane per database, one after the other, on the same clusters
describe.each(DATABASES)('kubernetes clusters, control plane on %s', (kind) => {
  beforeAll(async () => {
    env = { ...(await freshDatabase(kind)), FLOE_KUBE_RETRY_MAX_MS: '500' };
    t = await startTestControlPlane(env);
  });
  afterAll(() => t?.close({ keepSessions: true }));

  it('registers clusters with a kubeconfig, stored sealed and never shown', async () => {
    const r = await register(eu, 'eu', 'eu-west', { 'floe.dev/storage-class': 'fast' });
    expect(r.status).toBe(201);
    const kubeconfigText = readFileSync(eu.kubeconfig, 'utf8');
    const server = kubeconfigText.match(/server: (\S+)/)?.[1] as string;
    expect(r.body).toMatchObject({
      driver: 'kubernetes',
      credentials: 'kubeconfig',
      apiServer: server,
    });
    expect(JSON.stringify(r.body)).not.toContain('kubeconfig:');
    expect((await register(us, 'us', 'us-east')).status).toBe(201);

    const [row] = await t.cp.database.db
      .select()
      .from(clustersTable)
      .where(eq(clustersTable.name, 'eu'));
    const sealed = row?.kubeconfigSealed as string;
    expect(sealed).toMatch(/^v1\./);
    expect(sealed).not.toContain(server);
    expect(sealed).not.toContain(new URL(server).host);
    for (const secret of kubeconfigText.match(/(token|client-key-data): (\S+)/g) ?? []) {
      expect(sealed).not.toContain(secret.split(': ')[1]);
    }
    await eventually(async () => (await cluster('eu')).status === 'connected');
    await eventually(async () => (await cluster('us')).status === 'connected');
  });

  it('refuses a kubeconfig it cannot use with 422, and clusters to tenant admins', async () => {
    const bad = await t.call('POST', '/v1/clusters', {
      body: { name: 'bad', region: 'eu-west', driver: 'kubernetes', kubeconfig: 'token: [oops' },
    });
    expect(bad.status).toBe(422);
    expect(bad.body.error).toMatchObject({ code: 'invalid_kubeconfig' });
    expect(bad.body.error.message).not.toContain('oops');
    const noContext = await t.call('POST', '/v1/clusters', {
      body: {
        name: 'bad',
        region: 'eu-west',
        driver: 'kubernetes',
        kubeconfig: 'apiVersion: v1\nkind: Config\n',
      },
    });
    expect(noContext.status).toBe(422);
    expect(noContext.body.error.message).toMatch(/current-context/);
    const local = await t.call('POST', '/v1/clusters', {
      body: { name: 'bad', region: 'eu-west', driver: 'local', kubeconfig: 'x' },
    });
    expect(local.status).toBe(400);
    const patch = await t.call('PATCH', '/v1/clusters/eu', { body: { kubeconfig: 'nope' } });
    expect(patch.status).toBe(422);

    tenantId = await seed('acme', ['eu-west'], { maxGpus: 3 });
    globalTenantId = await seed('globex', []);
    for (const [method, path] of [
      ['GET', '/v1/clusters'],
      ['GET', '/v1/clusters/eu'],
      ['PATCH', '/v1/clusters/eu'],
      ['DELETE', '/v1/clusters/eu'],
    ] as const) {
      const r = await t.call(method, path, {
        token: adminOf.acme,
        body: method === 'PATCH' ? {} : undefined,
      });
      expect(r.status).toBe(403);
    }
  });

  it('reads GPUs from the nodes, less what pods outside Floe request', async () => {
    const gpus = async (name: string) => (await cluster(name)).capacity.gpus;
    expect(await gpus('eu')).toEqual([
      { sku: 'a100', allocatable: 16, usedByOthers: 0, usedByFloe: 0, free: 16 },
    ]);
    expect((await gpus('us')).map((g: Body) => [g.sku, g.allocatable])).toEqual([
      ['a100', 8],
      ['l4', 4],
    ]);
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `training-${kind}`, namespace: 'default' },
      spec: {
        // bound by name rather than by the scheduler: a restarted scheduler (the outage test
        // of the run before) waits out its predecessor's leader lease before it schedules
        nodeName: `${EU}-gpu-a100-0`,
        containers: [
          { name: 'train', image: 'trainer:1', resources: { limits: { 'nvidia.com/gpu': '6' } } },
        ],
      },
    };
    await kubectl(eu, ['apply', '-f', '-'], JSON.stringify(pod));
    await eventually(async () => (await gpus('eu'))[0].usedByOthers === 6);
    expect((await gpus('eu'))[0]).toMatchObject({ allocatable: 16, free: 10 });
    await kubectl(eu, [
      'delete',
      'pod',
      `training-${kind}`,
      '-n',
      'default',
      // a terminating pod still holds its GPUs; gone is gone
      '--grace-period=0',
      '--force',
    ]);
    await eventually(async () => (await gpus('eu'))[0].usedByOthers === 0);
  });

  let running: string;
  it('launches on the cluster of the right region and SKU, as a Session in the tenant’s namespace', async () => {
    const r = await launch('acme', 'a100');
    expect(r.status).toBe(201);
    running = r.body.id;
    expect(r.body.clusterId).toBe((await cluster('eu')).id);
    const resource = await eventually(() => sessionResource(eu, tenantId, running));
    expect(resource.metadata.labels).toMatchObject({
      'app.kubernetes.io/managed-by': 'floe-control',
      'floe.dev/session': running,
      'floe.dev/tenant': tenantId,
      'floe.dev/app': 'a100',
    });
    expect(resource.spec).toMatchObject({
      tenant: { id: tenantId, name: 'ACME', maxGpus: 3 },
      user: { name: 'ada@acme.test' },
      app: { slug: 'a100', image: 'floe/desk:1', resources: { gpu: { count: 1, sku: 'a100' } } },
    });
    const ns = await json(eu, ['get', 'namespace', tenantNamespace(tenantId)]);
    expect(ns.metadata.labels).toMatchObject({
      'app.kubernetes.io/managed-by': 'floe-control',
      'floe.dev/tenant': tenantId,
    });
    await eventually(async () => (await stateOf('acme', running)) === 'starting');

    // the l4 app runs only in us-east: globex may go there, acme (eu-west only) may not
    const l4 = await launch('globex', 'l4x4');
    expect(l4.status).toBe(201);
    expect(l4.body.clusterId).toBe((await cluster('us')).id);
    const spec = (await eventually(() => sessionResource(us, globalTenantId, l4.body.id))).spec;
    expect(spec).toMatchObject({
      app: { command: ['startx'], env: { THEME: 'dark' }, resources: { cpu: '2', memory: '8Gi' } },
      persistence: { size: '10Gi' },
      timeouts: { idleSeconds: 900 },
    });
    expect((await launch('acme', 'l4x4')).body.error.code).toBe('unplaceable');
    // the cluster's 4 L4s are taken
    const full = await launch('globex', 'l4x4');
    expect(full.status).toBe(503);
    expect(full.body.error.code).toBe('no_capacity');
    await t.call('DELETE', `/v1/tenants/globex/sessions/${l4.body.id}`);
    await eventually(async () => (await stateOf('globex', l4.body.id)) === 'stopped');
  });

  it('moves the session with its Session’s status: running with its endpoint', async () => {
    const ns = tenantNamespace(tenantId);
    await operatorStandIn.setStatus(eu, ns, running, { phase: 'Starting' });
    await operatorStandIn.setStatus(eu, ns, running, {
      phase: 'Running',
      endpoint: 'http://10.1.2.3:8080/',
    });
    await eventually(async () => (await stateOf('acme', running)) === 'running');
    expect((await session('acme', running)).endpoint).toBe('http://10.1.2.3:8080/');
  });

  it('holds the tenant’s GPU quota (429) across clusters', async () => {
    const second = await launch('acme', 'a100');
    const third = await launch('acme', 'a100');
    expect([second.status, third.status]).toEqual([201, 201]);
    const fourth = await launch('acme', 'a100');
    expect(fourth.status).toBe(429);
    expect(fourth.body.error.quota).toBe('tenant.maxGpus');
    for (const r of [second, third]) {
      await t.call('DELETE', `/v1/tenants/acme/sessions/${r.body.id}`);
      await eventually(async () => (await stateOf('acme', r.body.id)) === 'stopped');
      expect(await sessionResource(eu, tenantId, r.body.id)).toBeNull();
    }
  });

  it('ends a session the operator reports failed, and deletes its Session', async () => {
    const r = await launch('acme', 'a100');
    const ns = tenantNamespace(tenantId);
    await eventually(() => sessionResource(eu, tenantId, r.body.id));
    await operatorStandIn.setStatus(eu, ns, r.body.id, {
      phase: 'Failed',
      reason: 'ErrImagePull',
      message: 'floe/desk:1 not found',
    });
    await eventually(async () => (await stateOf('acme', r.body.id)) === 'failed');
    expect((await session('acme', r.body.id)).reason).toBe('ErrImagePull: floe/desk:1 not found');
    await eventually(async () => (await sessionResource(eu, tenantId, r.body.id)) === null);
  });

  it('makes a down cluster’s sessions unknown, places elsewhere, and reconciles on its return', async () => {
    const stopping = (await launch('globex', 'a100', 'eu-west')).body.id;
    expect((await session('globex', stopping)).clusterId).toBe((await cluster('eu')).id);
    await eventually(async () => (await stateOf('globex', stopping)) === 'starting');

    await kwokctl(eu, 'stop');
    await eventually(async () => (await cluster('eu')).status === 'unreachable');
    await eventually(async () => (await stateOf('acme', running)) === 'unknown');
    await eventually(async () => (await stateOf('globex', stopping)) === 'unknown');
    expect((await t.call('GET', '/metrics', { token: null })).body).toMatch(
      /floe_cluster_up\{cluster="eu"\} 0/,
    );
    // quotas still count unknown sessions: acme holds 1 of 3 GPUs, and eu-west is down
    const refused = await launch('acme', 'a100');
    expect(refused.status).toBe(503);
    expect(refused.body.error.message).toMatch(/eu is unreachable/);
    // globex may run anywhere: us-east's A100s take it
    const elsewhere = await launch('globex', 'a100', 'eu-west');
    expect(elsewhere.status).toBe(201);
    expect(elsewhere.body.clusterId).toBe((await cluster('us')).id);
    // a stop asked meanwhile waits for the cluster
    expect((await t.call('DELETE', `/v1/tenants/globex/sessions/${stopping}`)).status).toBe(202);

    await kwokctl(eu, 'start');
    await eventually(async () => (await cluster('eu')).status === 'connected', 60_000);
    await eventually(async () => (await stateOf('acme', running)) === 'running');
    await eventually(async () => (await stateOf('globex', stopping)) === 'stopped');
    expect(await sessionResource(eu, globalTenantId, stopping)).toBeNull();
    const events = (await session('acme', running)).events.map((e: Body) => e.to);
    expect(events.slice(-3)).toEqual(['running', 'unknown', 'running']);
    await t.call('DELETE', `/v1/tenants/globex/sessions/${elsewhere.body.id}`);
    await eventually(async () => (await stateOf('globex', elsewhere.body.id)) === 'stopped');
  }, 180_000);

  it('at restart, removes orphan Sessions and fails sessions whose Session vanished', async () => {
    const vanishing = (await launch('acme', 'a100')).body.id;
    await eventually(() => sessionResource(eu, tenantId, vanishing));
    await t.close({ keepSessions: true });

    // while the control plane is down: its Session is deleted, and an orphan appears
    const ns = tenantNamespace(tenantId);
    await kubectl(eu, ['delete', 'session', vanishing, '-n', ns]);
    const orphan = '0190aaaa-0000-7000-8000-00000000dead';
    const body = {
      apiVersion: 'floe.dev/v1alpha1',
      kind: 'Session',
      metadata: {
        name: orphan,
        namespace: ns,
        labels: { 'app.kubernetes.io/managed-by': 'floe-control', 'floe.dev/session': orphan },
      },
      spec: {
        tenant: { id: tenantId, name: 'ACME' },
        user: { id: 'u' },
        app: { slug: 'a100', image: 'x', resources: { cpu: '1', memory: '1Gi' } },
      },
    };
    await kubectl(eu, ['apply', '-f', '-'], JSON.stringify(body));

    t = await startTestControlPlane(env);
    await eventually(async () => (await stateOf('acme', vanishing)) === 'failed');
    expect((await session('acme', vanishing)).reason).toBe('its Session resource vanished');
    await eventually(async () => (await sessionResource(eu, tenantId, orphan)) === null);
    // the running session survives the restart, and a second restart changes nothing
    expect(await stateOf('acme', running)).toBe('running');
    const before = (await session('acme', running)).events.length;
    await t.close({ keepSessions: true });
    t = await startTestControlPlane(env);
    await eventually(async () => (await cluster('eu')).status === 'connected');
    await new Promise((r) => setTimeout(r, 500));
    expect((await session('acme', running)).events.length).toBe(before);
    expect(await stateOf('acme', running)).toBe('running');
  }, 120_000);

  it('stops a session by deleting its Session, and deregisters a cluster only once idle', async () => {
    expect((await t.call('DELETE', '/v1/clusters/eu')).status).toBe(409);
    await t.call('DELETE', `/v1/tenants/acme/sessions/${running}`);
    await eventually(async () => (await stateOf('acme', running)) === 'stopped');
    expect(await sessionResource(eu, tenantId, running)).toBeNull();
    expect((await t.call('DELETE', '/v1/clusters/eu')).status).toBe(204);
    // a rotated kubeconfig reconnects the cluster with it
    const rotated = await t.call('PATCH', '/v1/clusters/us', {
      body: { kubeconfig: readFileSync(us.kubeconfig, 'utf8'), labels: { tier: 'gold' } },
    });
    expect(rotated.status).toBe(200);
    expect(rotated.body).toMatchObject({ credentials: 'kubeconfig', labels: { tier: 'gold' } });
    await eventually(async () => (await cluster('us')).status === 'connected');
    expect((await t.call('GET', '/v1/clusters/eu')).status).toBe(404);
    const metrics = (await t.call('GET', '/metrics', { token: null })).body;
    expect(metrics).toMatch(
      /floe_cluster_kube_requests_total\{cluster="us",verb="list",resource="sessions"\} \d+/,
    );
    expect(metrics).not.toMatch(/floe_cluster_up\{cluster="eu"\}/);
  });
});
