// The Kubernetes driver's decisions, without a cluster: capacity from nodes and pods, the
// Session a launch writes, what a Session's status means, and kubeconfig checks.

import { KubeApiError } from '@floe/kube/kube';
import { describe, expect, it } from 'vitest';
import type { LaunchSpec } from '../../src/drivers/driver.ts';
import { describeError } from '../../src/drivers/kubernetes/api.ts';
import { gpuCapacity, type NodeLike, type PodLike } from '../../src/drivers/kubernetes/capacity.ts';
import { parseKubeconfig } from '../../src/drivers/kubernetes/kubeconfig.ts';
import { sessionObject, sessionReport } from '../../src/drivers/kubernetes/session-resource.ts';

const node = (name: string, sku: string | null, gpus: number, over: Partial<NodeLike> = {}) => ({
  metadata: { name, labels: sku ? { 'floe.dev/gpu-sku': sku } : {} },
  status: {
    allocatable: { cpu: '64', 'nvidia.com/gpu': String(gpus) },
    conditions: [{ type: 'Ready', status: 'True' }],
  },
  ...over,
});

const pod = (nodeName: string | undefined, gpus: number, over: Partial<PodLike> = {}): PodLike => ({
  metadata: { name: 'p', namespace: 'ml', labels: {} },
  spec: { nodeName, containers: [{ resources: { limits: { 'nvidia.com/gpu': String(gpus) } } }] },
  status: { phase: 'Running' },
  ...over,
});

describe('gpuCapacity', () => {
  it('sums allocatable GPUs by SKU over ready, schedulable nodes', () => {
    const nodes = [
      node('a', 'a100', 8),
      node('b', 'a100', 8),
      node('c', 'l4', 4),
      node('cpu', null, 0),
      node('down', 'a100', 8, { status: { conditions: [{ type: 'Ready', status: 'False' }] } }),
      node('cordoned', 'l4', 4, { spec: { unschedulable: true } }),
    ];
    expect(gpuCapacity(nodes, [])).toEqual([
      { sku: 'a100', allocatable: 16, heldByOthers: 0 },
      { sku: 'l4', allocatable: 4, heldByOthers: 0 },
    ]);
  });

  it('subtracts what bound pods outside Floe request, not Floe sessions nor ended pods', () => {
    const nodes = [node('a', 'a100', 8)];
    const pods = [
      pod('a', 3),
      pod(undefined, 2), // not scheduled yet: holds nothing
      pod('a', 1, { metadata: { labels: { 'floe.dev/session': 's1' } } }), // Floe's own
      pod('a', 4, { status: { phase: 'Succeeded' } }),
      pod('a', 0),
    ];
    expect(gpuCapacity(nodes, pods)).toEqual([{ sku: 'a100', allocatable: 8, heldByOthers: 3 }]);
  });

  it('counts an init container’s request when it exceeds the containers’', () => {
    const p = pod('a', 1);
    p.spec!.initContainers = [{ resources: { requests: { 'nvidia.com/gpu': '2' } } }];
    expect(gpuCapacity([node('a', 'a100', 8)], [p])[0]?.heldByOthers).toBe(2);
  });
});

const spec: LaunchSpec = {
  sessionId: '0198a0b0-0000-7000-8000-000000000001',
  tenantId: '0198a0b0-0000-7000-8000-0000000000aa',
  userId: '0198a0b0-0000-7000-8000-0000000000bb',
  tenant: { name: 'Acme', maxGpus: 8 },
  user: { email: 'ada@acme.test' },
  app: {
    slug: 'desk',
    image: 'floe/desktop:1',
    command: ['startx'],
    env: { THEME: 'dark' },
    cpu: '2',
    memory: '4Gi',
    gpuSku: 'a100',
    gpuCount: 1,
    persistenceSize: '10Gi',
    idleTimeoutSeconds: 900,
    maxLifetimeSeconds: null,
    scheduling: null,
    videoCodecs: null,
  },
};

describe('sessionObject', () => {
  it('names the Session by the session, in the tenant’s namespace, labelled', () => {
    const s = sessionObject(spec, { 'floe.dev/storage-class': 'fast' });
    expect(s.metadata).toEqual({
      name: spec.sessionId,
      namespace: `floe-t-${spec.tenantId}`,
      labels: {
        'app.kubernetes.io/managed-by': 'floe-control',
        'floe.dev/session': spec.sessionId,
        'floe.dev/tenant': spec.tenantId,
        'floe.dev/user': spec.userId,
        'floe.dev/app': 'desk',
      },
    });
    expect(s.spec).toEqual({
      tenant: { id: spec.tenantId, name: 'Acme', maxGpus: 8 },
      user: { id: spec.userId, name: 'ada@acme.test' },
      app: {
        slug: 'desk',
        image: 'floe/desktop:1',
        command: ['startx'],
        env: { THEME: 'dark' },
        resources: { cpu: '2', memory: '4Gi', gpu: { count: 1, sku: 'a100' } },
      },
      persistence: { size: '10Gi', storageClassName: 'fast' },
      timeouts: { idleSeconds: 900 },
    });
  });

  it('leaves out what the app does not set', () => {
    const app = { ...spec.app, command: null, env: {}, gpuSku: null, gpuCount: 0 };
    const s = sessionObject(
      { ...spec, app: { ...app, persistenceSize: null, idleTimeoutSeconds: null } },
      {},
    );
    expect(s.spec.app).toEqual({
      slug: 'desk',
      image: 'floe/desktop:1',
      resources: { cpu: '2', memory: '4Gi', gpu: null },
    });
    expect(s.spec.persistence).toBeNull();
    expect(s.spec.timeouts).toBeUndefined();
    expect(s.spec.streamer).toBeUndefined(); // the streamer's default codec preference
  });

  it('hands the app’s codec preference to the streamer', () => {
    const s = sessionObject({ ...spec, app: { ...spec.app, videoCodecs: ['AV1', 'H264'] } }, {});
    expect(s.spec.streamer).toEqual({ codecs: ['AV1', 'H264'] });
  });

  it('passes the app’s scheduling template to the Session as it is', () => {
    const scheduling = {
      tolerations: [{ key: 'dedicated', operator: 'Equal' as const, value: 'cad' }],
      shmSize: '2Gi',
      envFromSecrets: [{ name: 'LICENSE', secret: 'licences', key: 'flexlm' }],
    };
    const s = sessionObject({ ...spec, app: { ...spec.app, scheduling } }, {});
    expect(s.spec.app.scheduling).toEqual(scheduling);
  });

  it('refuses an app without an image', () => {
    expect(() => sessionObject({ ...spec, app: { ...spec.app, image: null } }, {})).toThrow(
      /image/,
    );
  });
});

describe('sessionReport', () => {
  const at = (status: object) => sessionReport({ metadata: { name: 's', namespace: 'n' }, status });
  it('maps each phase to a session state', () => {
    expect(at({})).toEqual({ state: 'starting' });
    expect(at({ phase: 'Pending', reason: 'Unschedulable' })).toEqual({ state: 'starting' });
    expect(at({ phase: 'Running' })).toEqual({ state: 'starting' });
    expect(at({ phase: 'Running', endpoint: 'http://10.0.0.1:8080/' })).toEqual({
      state: 'running',
      endpoint: 'http://10.0.0.1:8080/',
    });
    expect(at({ phase: 'Stopped', reason: 'IdleTimeout' })).toEqual({
      state: 'stopped',
      reason: 'IdleTimeout',
    });
    expect(at({ phase: 'Failed', reason: 'ErrImagePull', message: 'no such image' })).toEqual({
      state: 'failed',
      reason: 'ErrImagePull: no such image',
    });
  });
});

const kubeconfig = (over: { server?: string; context?: string; user?: object } = {}) =>
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server: over.server ?? 'https://10.0.0.1:6443' } }],
    users: [{ name: 'u', user: over.user ?? { token: 'secret-token' } }],
    contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
    'current-context': over.context ?? 'ctx',
  });

describe('parseKubeconfig', () => {
  it('gives the API server of the current context', () => {
    expect(parseKubeconfig(kubeconfig())).toMatchObject({
      ok: true,
      server: 'https://10.0.0.1:6443',
    });
  });

  it('says what is wrong, without quoting the text', () => {
    const bad = parseKubeconfig('token: [secret-token');
    expect(bad).toMatchObject({ ok: false });
    expect(JSON.stringify(bad)).not.toMatch(/secret-token/);
    expect(parseKubeconfig('hello')).toMatchObject({ ok: false, message: /current-context/ });
    expect(parseKubeconfig(kubeconfig({ context: 'nope' }))).toMatchObject({ ok: false });
    expect(parseKubeconfig(kubeconfig({ server: 'ftp://x' }))).toMatchObject({ ok: false });
    expect(
      parseKubeconfig(kubeconfig({ user: { exec: { command: 'sh', apiVersion: 'x' } } })),
    ).toMatchObject({ ok: false, message: /exec/ });
  });

  it('takes inline credentials only: a file reference or plugin is refused, naming the field', () => {
    const refused = (doc: string, field: string) =>
      expect(parseKubeconfig(doc)).toMatchObject({
        ok: false,
        refused: true,
        message: expect.stringContaining(`kubeconfig: ${field} `),
      });
    refused(kubeconfig({ user: { 'token-file': '/etc/hostname' } }), 'users[0].user.token-file');
    refused(kubeconfig({ user: { tokenFile: '/etc/hostname' } }), 'users[0].user.tokenFile');
    refused(
      kubeconfig({ user: { 'client-certificate': '/a.crt', 'client-key-data': 'eA==' } }),
      'users[0].user.client-certificate',
    );
    refused(
      kubeconfig({ user: { 'client-certificate-data': 'eA==', 'client-key': '/a.key' } }),
      'users[0].user.client-key',
    );
    refused(
      kubeconfig({ user: { 'auth-provider': { name: 'oidc', config: {} } } }),
      'users[0].user.auth-provider',
    );
    refused(kubeconfig({ user: { username: 'a', password: 'b' } }), 'users[0].user.username');
    const caFile = JSON.parse(kubeconfig());
    caFile.clusters[0].cluster['certificate-authority'] = '/etc/ssl/private/key.pem';
    refused(JSON.stringify(caFile), 'clusters[0].cluster.certificate-authority');
    // a user no context names is refused too: nothing in the document may name a file
    const unused = JSON.parse(kubeconfig());
    unused.users.push({ name: 'other', user: { 'token-file': '/etc/shadow' } });
    refused(JSON.stringify(unused), 'users[1].user.token-file');
    // the same as YAML, and hidden behind an anchor and a merge key
    refused(
      [
        'apiVersion: v1',
        'kind: Config',
        'base: &base {token-file: /etc/hostname}',
        "clusters: [{name: c, cluster: {server: 'https://10.0.0.1:6443'}}]",
        'users: [{name: u, user: {<<: *base}}]',
        'contexts: [{name: ctx, context: {cluster: c, user: u}}]',
        'current-context: ctx',
      ].join('\n'),
      'users[0].user.<<',
    );
  });

  it('accepts inline token, client certificate and CA data', () => {
    const inline = JSON.parse(
      kubeconfig({ user: { 'client-certificate-data': 'Y2VydA==', 'client-key-data': 'a2V5' } }),
    );
    inline.clusters[0].cluster['certificate-authority-data'] = 'Y2E=';
    const parsed = parseKubeconfig(JSON.stringify(inline));
    expect(parsed).toMatchObject({ ok: true });
    if (!parsed.ok) return;
    expect(parsed.kubeConfig.getCurrentUser()).toMatchObject({
      certData: 'Y2VydA==',
      keyData: 'a2V5',
    });
    expect(parsed.kubeConfig.getCurrentCluster()).toMatchObject({ caData: 'Y2E=' });
    const token = parseKubeconfig(kubeconfig());
    expect(token.ok && token.kubeConfig.getCurrentUser()?.token).toBe('secret-token');
  });
});

describe('describeError', () => {
  it('gives the cluster’s status and message, or why there was no answer', () => {
    const refused = new KubeApiError(422, 'Invalid', 'spec.app: Required', 'create sessions');
    expect(describeError(refused)).toEqual({ status: 422, message: 'spec.app: Required' });
    const cause = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(describeError(new Error('list nodes: connect ECONNREFUSED', { cause }))).toEqual({
      message: 'ECONNREFUSED',
    });
  });
});
