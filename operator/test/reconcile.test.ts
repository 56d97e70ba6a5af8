// The operator against real API servers (testbed: kube-apiserver, controller-manager,
// scheduler, etcd; KWOK nodes), two clusters in different regions with different GPU SKUs.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import { isNotFound, type Kube, KubeApiError } from '@floe/kube/kube';
import { at, R } from '@floe/kube/resources';
import type { KubernetesClusters } from '@floe/testbed';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeySet, loadKeys } from '../../gateway/src/keys.ts';
import {
  FINALIZER,
  GPU_SKU_LABEL,
  homeClaimName,
  podName,
  SESSION_RESOURCE,
  type Session,
  tenantNamespace,
} from '../src/crd.ts';
import { type Operator, startOperator } from '../src/operator.ts';
import {
  createSession,
  getSession,
  kubeConfigOf,
  kubeOf,
  quietLog,
  sessionObject,
  sessionSpec,
  startClusters,
  waitFor,
} from './testbed.ts';

// API objects as read, checked field by field below
// biome-ignore lint/suspicious/noExplicitAny: JSON of many kinds, asserted on by the tests
type Json = any;

let k8s: KubernetesClusters;
const operators: Operator[] = [];
const kubes: Kube[] = [];
let eu: Kube;
let us: Kube;
/** the gateway's JWKS as the eu operator fetches it, served as the gateway serves it */
let gatewayJwks: unknown;
let jwksServer: Server;
const GATEWAY_ISSUER = 'https://gateway.eu.test';

beforeAll(async () => {
  k8s = await startClusters('reconcile', [
    {
      name: 'op-eu',
      region: 'eu-west',
      gpuNodes: [{ sku: 'a100', count: 2, gpusPerNode: 4 }],
      cpuNodes: 1,
    },
    {
      name: 'op-us',
      region: 'us-east',
      gpuNodes: [{ sku: 'l4', count: 2, gpusPerNode: 4 }],
      cpuNodes: 1,
    },
  ]);
  gatewayJwks = (await loadKeys(JSON.stringify(await generateKeySet()))).jwks;
  jwksServer = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(gatewayJwks));
  });
  await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  const jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
  for (const c of k8s.clusters) {
    // the eu cluster's pods check viewer tokens (the gateway's keys in a ConfigMap each)
    const viewer =
      c.name === 'op-eu'
        ? { viewerIssuer: GATEWAY_ISSUER, viewerJwksUrl: jwksUrl, viewerKeysRefresh: 1 }
        : {};
    operators.push(
      await startOperator({
        kubeconfig: kubeConfigOf(c),
        logger: quietLog.child({ cluster: c.name }),
        config: { leaderElect: false, metricsAddr: '127.0.0.1:0', idleCheck: 1, ...viewer },
      }),
    );
    kubes.push(kubeOf(c));
  }
  [eu, us] = kubes as [Kube, Kube];
}, 180_000);

afterAll(async () => {
  await Promise.all(operators.map((o) => o.close()));
  jwksServer?.close();
  for (const k of kubes) k.close();
  k8s?.stop();
});

const running = (kube: Kube, ns: string, name: string, phase = 'Running') =>
  waitFor(`session ${name} ${phase}`, async () => {
    const s = await getSession(kube, ns, name);
    return s.status?.phase === phase ? s : undefined;
  });

const get = <T>(kube: Kube, kind: Parameters<typeof at>[0], ns: string | undefined, name: string) =>
  kube.request<T>('get', at(kind, ns, name));

async function gone(kube: Kube, kind: Parameters<typeof at>[0], ns: string, name: string) {
  await waitFor(`${kind.plural}/${name} gone`, async () => {
    try {
      await get(kube, kind, ns, name);
      return undefined;
    } catch (err) {
      if (isNotFound(err)) return true;
      throw err;
    }
  });
}

describe('Session CRD', () => {
  it('shows tenant, user, app, phase, node and age in kubectl get sessions', async () => {
    const c = k8s.clusters[0]!;
    const spec = sessionSpec({ tenantId: 'print', slug: 'gimp' });
    await createSession(eu, 'print-1', spec);
    await running(eu, tenantNamespace('print'), 'print-1');
    const table = await k8s.kubectl(c, ['get', 'sessions', '-n', tenantNamespace('print')]);
    const [header, row] = table.trim().split('\n');
    expect(header?.split(/\s{2,}/)).toEqual([
      'NAME',
      'TENANT',
      'USER',
      'APP',
      'PHASE',
      'NODE',
      'AGE',
    ]);
    expect(row).toMatch(
      /^print-1\s+Tenant print\s+user-u1\s+gimp\s+Running\s+op-eu-gpu-a100-\d\s+\d+s$/,
    );
    const wide = await k8s.kubectl(c, ['get', 'fs', '-n', tenantNamespace('print'), '-o', 'wide']);
    expect(wide).toMatch(/REASON\s+ENDPOINT/);
  });

  const invalid: [string, (s: ReturnType<typeof sessionSpec>) => unknown, RegExp][] = [
    [
      'missing app.image',
      (s) => ({ ...s, app: { ...s.app, image: undefined } }),
      /spec\.app\.image: Required value/,
    ],
    [
      'gpu count 0',
      (s) => ({
        ...s,
        app: { ...s.app, resources: { ...s.app.resources, gpu: { count: 0, sku: 'a100' } } },
      }),
      /spec\.app\.resources\.gpu\.count: Invalid value: 0: spec\.app\.resources\.gpu\.count in body should be greater than or equal to 1/,
    ],
    [
      'a bad slug',
      (s) => ({ ...s, app: { ...s.app, slug: 'Not_A_Slug' } }),
      /spec\.app\.slug: Invalid value: "Not_A_Slug"/,
    ],
    [
      'a bad quantity',
      (s) => ({ ...s, app: { ...s.app, resources: { ...s.app.resources, memory: 'lots' } } }),
      /spec\.app\.resources\.memory: Invalid value: "lots"/,
    ],
    [
      'an unknown codec',
      (s) => ({ ...s, streamer: { codecs: ['AV2'] } }),
      /spec\.streamer\.codecs\[0\]: Unsupported value: "AV2": supported values: "H264", "VP8", "VP9", "AV1", "H264-444", "VP9-444"/,
    ],
    [
      'a negative timeout',
      (s) => ({ ...s, timeouts: { startSeconds: -5 } }),
      /spec\.timeouts\.startSeconds: Invalid value: -5/,
    ],
  ];
  it.each(invalid)('rejects a Session with %s (422)', async (_, mutate, message) => {
    const spec = mutate(sessionSpec({ tenantId: 'invalid' })) as ReturnType<typeof sessionSpec>;
    const ns = tenantNamespace('invalid');
    await createSession(eu, 'ok-first', sessionSpec({ tenantId: 'invalid' })).catch(() => {}); // makes the namespace
    const err = await eu
      .request('create', at(SESSION_RESOURCE, ns), { body: sessionObject('bad', spec) })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(KubeApiError);
    expect((err as KubeApiError).status).toBe(422);
    expect((err as KubeApiError).reason).toBe('Invalid');
    expect((err as Error).message).toMatch(message);
  });
});

describe('reconcile', () => {
  it('runs a GPU session on a node of its SKU, with policy, quota, service, route and a home', async () => {
    const spec = sessionSpec({ tenantId: 'acme', userId: 'alice', slug: 'blender' });
    const ns = tenantNamespace('acme');
    await createSession(eu, 's-run', spec);
    const s = await running(eu, ns, 's-run');
    const name = podName('s-run');
    expect(s.metadata.finalizers).toContain(FINALIZER);
    expect(s.status).toMatchObject({
      phase: 'Running',
      node: expect.stringMatching(/^op-eu-gpu-a100-\d$/),
      endpoint: `http://${name}.${ns}.svc.cluster.local:8080/`,
      runningAt: expect.any(String),
      startedAt: expect.any(String),
    });
    expect(s.status?.conditions?.map((c) => [c.type, c.status])).toEqual([
      ['Scheduled', 'True'],
      ['Ready', 'True'],
      ['Stopped', 'False'],
    ]);

    // the pod: on a node labelled with the SKU, restricted, GPU limit, X server, home claim
    const pod = await get<Json>(eu, R.pod, ns, name);
    const node = await get<Json>(eu, R.node, undefined, pod.spec.nodeName);
    expect(node.metadata.labels[GPU_SKU_LABEL]).toBe('a100');
    expect(pod.spec.nodeSelector).toEqual({ [GPU_SKU_LABEL]: 'a100' });
    expect(pod.spec.automountServiceAccountToken).toBe(false);
    expect(pod.spec.enableServiceLinks).toBe(false);
    expect(pod.spec.restartPolicy).toBe('Never');
    expect(pod.spec.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 1000,
      fsGroup: 1000,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(pod.spec.containers.map((c: Json) => c.name)).toEqual(['app']);
    // X server, PulseAudio and the streamer (the gamepads' hub): native sidecars, started
    // first, in order, as the API server took them
    expect(pod.spec.initContainers.map((c: Json) => [c.name, c.restartPolicy])).toEqual([
      ['xserver', 'Always'],
      ['sound', 'Always'],
      ['streamer', 'Always'],
    ]);
    // the session's X cookie, owned by the Session (gone with it)
    const xauth = await get<Json>(eu, R.secret, ns, `${name}-xauth`);
    expect(Object.keys(xauth.data)).toEqual(['Xauthority']);
    expect(xauth.metadata.ownerReferences[0].uid).toBe(s.metadata.uid);
    for (const c of [...pod.spec.initContainers, ...pod.spec.containers]) {
      expect(c.securityContext).toMatchObject({
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
        runAsNonRoot: true,
      });
    }
    const app = pod.spec.containers[0];
    expect(app.resources.limits['nvidia.com/gpu']).toBe('1');
    expect(app.env).toEqual(
      expect.arrayContaining([
        { name: 'DISPLAY', value: ':0' },
        { name: 'FLOE_SESSION_ID', value: 's-run' },
        { name: 'FOO', value: 'bar' },
      ]),
    );
    expect(pod.spec.volumes).toContainEqual({
      name: 'home',
      persistentVolumeClaim: { claimName: homeClaimName('alice', 'blender') },
    });
    expect(pod.metadata.ownerReferences).toEqual([
      expect.objectContaining({
        kind: 'Session',
        name: 's-run',
        uid: s.metadata.uid,
        controller: true,
        blockOwnerDeletion: true,
      }),
    ]);

    const egress = await get<Json>(eu, R.networkPolicy, ns, 'floe-restrict-egress');
    expect(egress.spec.policyTypes).toEqual(['Egress']);
    expect(JSON.stringify(egress.spec.egress)).toContain('169.254.0.0/16'); // no cloud metadata
    const policy = await get<Json>(eu, R.networkPolicy, ns, 'floe-deny-ingress');
    expect(policy.spec).toEqual({
      podSelector: {},
      policyTypes: ['Ingress'],
      ingress: [
        {
          from: [
            {
              namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'istio-system' } },
              podSelector: { matchLabels: { istio: 'ingressgateway' } },
            },
            {
              namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'floe-system' } },
              podSelector: { matchLabels: { 'app.kubernetes.io/name': 'floe-operator' } },
            },
            {
              namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } },
              podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } },
            },
          ],
          ports: [{ protocol: 'TCP', port: 8080 }],
        },
      ],
    });
    const quota = await get<Json>(eu, R.resourceQuota, ns, 'floe-gpu-quota');
    expect(quota.spec.hard).toEqual({ 'requests.nvidia.com/gpu': '8' });
    const nsObj = await get<Json>(eu, R.namespace, undefined, ns);
    expect(nsObj.metadata.labels['floe.dev/tenant']).toBe('acme');
    const svc = await get<Json>(eu, R.service, ns, name);
    expect(svc.spec.type).toBe('ClusterIP');
    expect(svc.spec.ports).toEqual([expect.objectContaining({ port: 8080, targetPort: 8080 })]);
    expect(svc.spec.selector).toMatchObject({ 'floe.dev/session': 's-run' });
    const vs = await get<Json>(eu, R.virtualService, ns, name);
    expect(vs.spec).toEqual({
      hosts: ['*'],
      gateways: ['istio-system/floe-gateway'],
      http: [
        {
          name: 'streamer',
          match: [{ uri: { exact: '/sessions/s-run/signal' } }],
          rewrite: { uri: '/signal' },
          headers: { request: { remove: ['cookie', 'x-csrf-token'] } },
          route: [
            { destination: { host: `${name}.${ns}.svc.cluster.local`, port: { number: 8080 } } },
          ],
        },
      ],
    });
    // the gateway's public keys for the streamer, in a ConfigMap the Session owns, kept current
    const keysName = `${name}-viewer-keys`;
    const readKeys = async () =>
      JSON.parse((await get<Json>(eu, R.configMap, ns, keysName)).data['jwks.json']);
    expect(await readKeys()).toEqual(gatewayJwks);
    const streamer = pod.spec.initContainers.find((c: Json) => c.name === 'streamer');
    expect(streamer.env).toContainEqual({ name: 'FLOE_VIEWER_ISSUER', value: GATEWAY_ISSUER });
    expect(pod.spec.volumes).toContainEqual({
      name: 'viewer-keys',
      configMap: { name: keysName, defaultMode: 420 },
    });
    const rotated = (await loadKeys(JSON.stringify(await generateKeySet()))).jwks;
    gatewayJwks = { keys: [...rotated.keys, ...(gatewayJwks as typeof rotated).keys] };
    await waitFor('the rotated keys in the ConfigMap', async () =>
      isDeepStrictEqual(await readKeys(), gatewayJwks) ? true : undefined,
    );

    const claim = await waitFor('home claim bound', async () => {
      const c = await get<Json>(eu, R.pvc, ns, homeClaimName('alice', 'blender'));
      return c.status?.phase === 'Bound' ? c : undefined;
    });
    expect(claim.metadata.ownerReferences).toBeUndefined();

    // stop: the control plane deletes the Session; pod, service, route go; the home stays
    await eu.request('delete', at(SESSION_RESOURCE, ns, 's-run'));
    await gone(eu, SESSION_RESOURCE, ns, 's-run');
    await gone(eu, R.pod, ns, name);
    await gone(eu, R.service, ns, name);
    await gone(eu, R.virtualService, ns, name);
    const kept = await get<Json>(eu, R.pvc, ns, homeClaimName('alice', 'blender'));
    expect(kept.spec.volumeName).toBe(claim.spec.volumeName);

    // relaunch of the same app by the same user: the same claim, the same volume
    await createSession(eu, 's-run-2', spec);
    await running(eu, ns, 's-run-2');
    const pod2 = await get<Json>(eu, R.pod, ns, podName('s-run-2'));
    expect(pod2.spec.volumes).toContainEqual({
      name: 'home',
      persistentVolumeClaim: { claimName: homeClaimName('alice', 'blender') },
    });
    const again = await get<Json>(eu, R.pvc, ns, homeClaimName('alice', 'blender'));
    expect(again.metadata.uid).toBe(claim.metadata.uid);
    expect(again.spec.volumeName).toBe(claim.spec.volumeName);
  });

  it('runs an l4 session on the other cluster, without persistence nor X server', async () => {
    const spec = sessionSpec({ tenantId: 'beta', slug: 'term' });
    spec.app.resources.gpu = { count: 2, sku: 'l4' };
    spec.app.hasXServer = true;
    spec.persistence = null;
    spec.tenant.maxGpus = null;
    const ns = tenantNamespace('beta');
    await createSession(us, 'l4-1', spec);
    const s = await running(us, ns, 'l4-1');
    expect(s.status?.node).toMatch(/^op-us-gpu-l4-\d$/);
    const pod = await get<Json>(us, R.pod, ns, podName('l4-1'));
    expect(pod.spec.containers.map((c: Json) => c.name)).toEqual(['app', 'streamer']);
    expect(pod.spec.volumes).toContainEqual({ name: 'home', emptyDir: {} });
    await expect(get(us, R.resourceQuota, ns, 'floe-gpu-quota')).rejects.toThrow(/404/);
  });

  it('leaves a session that no node can hold Pending (Unschedulable), then Failed after startSeconds', async () => {
    const spec = sessionSpec({ tenantId: 'big', slug: 'huge' });
    spec.app.resources.gpu = { count: 16, sku: 'a100' };
    spec.tenant.maxGpus = 64;
    spec.timeouts = { startSeconds: 4 };
    const ns = tenantNamespace('big');
    await createSession(eu, 'huge-1', spec);
    // the scheduler may first say the home's claim is not bound yet; the GPUs' verdict follows
    const pending = await waitFor('Unschedulable for GPUs', async () => {
      const s = await getSession(eu, ns, 'huge-1');
      return s.status?.reason === 'Unschedulable' && /nvidia\.com\/gpu/.test(s.status.message ?? '')
        ? s
        : undefined;
    });
    expect(pending.status?.phase).toBe('Pending');
    expect(pending.status?.message).toMatch(/Insufficient nvidia\.com\/gpu/);
    const failed = await running(eu, ns, 'huge-1', 'Failed');
    expect(failed.status).toMatchObject({
      reason: 'Unschedulable',
      message: expect.stringMatching(/not scheduled within 4s/),
    });
    expect(failed.status?.conditions?.find((c) => c.type === 'Stopped')?.status).toBe('True');
    await gone(eu, R.pod, ns, podName('huge-1'));
    // terminal is final: the Session stays Failed, no new pod
    const later = await getSession(eu, ns, 'huge-1');
    expect(later.status?.phase).toBe('Failed');
  });

  it("reports a pod refused by the tenant's GPU quota as Pending QuotaExceeded, then Failed", async () => {
    const spec = sessionSpec({ tenantId: 'quota', slug: 'greedy' });
    spec.app.resources.gpu = { count: 3, sku: 'a100' };
    spec.tenant.maxGpus = 2;
    spec.timeouts = { startSeconds: 3 };
    const ns = tenantNamespace('quota');
    await createSession(eu, 'greedy-1', spec);
    const pending = await waitFor('QuotaExceeded', async () => {
      const s = await getSession(eu, ns, 'greedy-1');
      return s.status?.reason === 'QuotaExceeded' ? s : undefined;
    });
    expect(pending.status?.phase).toBe('Pending');
    expect(pending.status?.message).toMatch(/exceeded quota: floe-gpu-quota/);
    const failed = await running(eu, ns, 'greedy-1', 'Failed');
    expect(failed.status?.reason).toBe('QuotaExceeded');
  });

  it('counts its requests and reconciles', async () => {
    const text = await (await fetch(`${operators[0]!.url}/metrics`)).text();
    expect(text).toMatch(/floe_operator_reconcile_total\{result="ok"\} \d+/);
    expect(text).toMatch(/floe_operator_kube_requests_total\{verb="create",resource="pods"\} \d+/);
    expect(text).toMatch(/floe_operator_sessions\{phase="Failed"\} 2/);
    expect(text).toMatch(/floe_operator_leader 1/);
    expect((await fetch(`${operators[0]!.url}/readyz`)).status).toBe(200);
  });
});

export type { Session };
