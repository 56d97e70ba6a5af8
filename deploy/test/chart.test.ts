// The Helm chart (deploy/chart) with the real helm (built from helm.sh/helm/v4 by the testbed)
// and a real kube-apiserver (the testbed's KWOK cluster, Istio's and the Prometheus operator's
// CRDs installed from their Go modules): lint, server-side validation of what it renders, an
// install whose workloads become ready, an upgrade that rolls, an uninstall that keeps only
// what must outlive it, and values the schema refuses.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ensureHelm,
  type KubernetesCluster,
  type KubernetesClusters,
  startKubernetesClusters,
} from '@floe/testbed';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { sessionCrd } from '../../operator/src/crd.ts';
import { FLOE_IMAGE_TAG, type FloeImage, floeImage } from '../../operator/src/images.ts';
import { clusterRoleRules } from '../../operator/src/manifests.ts';
import { main as turnCli } from '../../turn/src/cli.ts';
import { renderCoturnConfig } from '../../turn/src/config.ts';

const REPO = join(import.meta.dirname, '../..');
const CHART = join(REPO, 'deploy/chart');
const NAMESPACE = 'floe-system';
const CLUSTER_SCOPED = new Set(['ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition']);

// biome-ignore lint/suspicious/noExplicitAny: rendered Kubernetes objects, read by path
type Obj = Record<string, any>;

const work = mkdtempSync(join(tmpdir(), 'floe-chart-'));
let helmBin = '';
let k8s: KubernetesClusters | undefined;
let cluster: KubernetesCluster;

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end, whatever its exit status (the caller asserts on it). */
function run(file: string, args: string[], input?: string, timeoutMs = 150_000): Promise<Ran> {
  return new Promise((resolve) => {
    // spawns: helm, kubectl
    const child = execFile(
      file,
      args,
      {
        encoding: 'utf8',
        timeout: timeoutMs,
        maxBuffer: 64 << 20,
        // helm keeps its repositories, cache and plugins here, not in the user's home
        env: {
          ...process.env,
          HELM_CACHE_HOME: join(work, 'helm-cache'),
          HELM_CONFIG_HOME: join(work, 'helm-config'),
          HELM_DATA_HOME: join(work, 'helm-data'),
        },
      },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err.code as number) ?? 1) : 0, stdout, stderr }),
    );
    child.stdin?.end(input ?? '');
  });
}

const helm = (args: string[]) => run(helmBin, args);
const helmOk = async (args: string[]) => {
  const r = await helm(args);
  expect(r.code, `helm ${args.join(' ')}\n${r.stderr}${r.stdout}`).toBe(0);
  return r.stdout;
};
const kubectl = (args: string[], input?: string) =>
  run(k8s!.binaries.paths.kubectl, ['--kubeconfig', cluster.kubeconfig, ...args], input);
const kubectlJson = async (args: string[]): Promise<Obj> => {
  const r = await kubectl([...args, '-o', 'json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Obj;
};

type Values = Record<string, string | number | boolean>;
/** --set-json: a value keeps its JSON type (a label value "true" stays a string) */
const setArgs = (values: Values) =>
  Object.entries(values).flatMap(([k, v]) => ['--set-json', `${k}=${JSON.stringify(v)}`]);

/** `helm template` of the chart with these values, as objects. */
async function render(values: Values = {}, release = 'floe'): Promise<Obj[]> {
  const out = await helmOk(['template', release, CHART, '-n', NAMESPACE, ...setArgs(values)]);
  return parseAllDocuments(out)
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null);
}

const podSpecOf = (o: Obj): Obj | undefined => o.spec?.template?.spec;
const containersOf = (o: Obj): Obj[] => {
  const spec = podSpecOf(o);
  return spec ? [...(spec.initContainers ?? []), ...spec.containers] : [];
};
const find = (objs: Obj[], kind: string, name: string) => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name} rendered`);
  return o;
};
const envOf = (container: Obj): Record<string, string> =>
  Object.fromEntries(
    (container.env as { name: string; value?: string }[]).map((e) => [e.name, e.value ?? '']),
  );

// the values every install here uses: the Secrets the chart names exist (made in beforeAll)
const INSTALL_VALUES: Values = {
  url: 'https://floe.test.example',
  'cluster.podCidrs[0]': '10.128.0.0/9',
  'gpu.skus[0]': 'a100',
};

beforeAll(async () => {
  helmBin = await ensureHelm();
  k8s = await startKubernetesClusters({
    workDir: join(work, 'k8s'),
    clusters: [
      {
        name: 'chart',
        region: 'eu-west',
        cpuNodes: 3,
        gpuNodes: [{ sku: 'a100', count: 1, gpusPerNode: 4 }],
      },
    ],
    istio: true,
    prometheusOperator: true,
    onProgress: () => {},
  });
  cluster = k8s.clusters[0]!;
  // what an Istio install and the person installing make before the chart: the ingress
  // gateway's namespace, the database URL and the gateway's signing keys
  for (const ns of [NAMESPACE, 'istio-system']) {
    expect((await kubectl(['create', 'namespace', ns])).code).toBe(0);
  }
  const secrets = [
    ['floe-database', 'DATABASE_URL=postgres://floe:pw@postgres.example:5432/floe'],
    ['floe-gateway-keys', 'keys.json={"keys":[]}'],
  ];
  for (const [name, literal] of secrets) {
    const r = await kubectl([
      'create',
      'secret',
      'generic',
      name!,
      '-n',
      NAMESPACE,
      `--from-literal=${literal}`,
    ]);
    expect(r.code, r.stderr).toBe(0);
  }
}, 600_000);

afterAll(() => {
  k8s?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('the chart, rendered', () => {
  it('passes helm lint --strict', async () => {
    const out = await helmOk(['lint', '--strict', CHART, ...setArgs(INSTALL_VALUES)]);
    expect(out).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  it('carries the operator’s own Session CRD and RBAC rules', async () => {
    const crd = parse(readFileSync(join(CHART, 'crds/sessions.floe.dev.yaml'), 'utf8'));
    // a drift means operator/src/crd.ts changed: copy operator/manifests/crd.yaml into
    // deploy/chart/crds/sessions.floe.dev.yaml (after `node operator/src/main.ts manifests --write`)
    const fix =
      'the operator changed: copy operator/manifests/crd.yaml (keep the two comment lines)';
    expect(crd, fix).toEqual(sessionCrd);
    const objs = await render();
    expect(
      find(objs, 'ClusterRole', 'floe-operator').rules,
      'the operator changed its RBAC: write clusterRoleRules of operator/src/manifests.ts into deploy/chart/templates/operator.yaml',
    ).toEqual(clusterRoleRules);
  });

  it('names exactly the images `npm run images` builds, under the registry when one is given', async () => {
    const chart = parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as Obj;
    const values = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Obj;
    expect(chart.appVersion).toBe(FLOE_IMAGE_TAG);
    expect(values.images.tag).toBe(FLOE_IMAGE_TAG);
    for (const registry of ['', 'registry.example:5000/acme']) {
      const objs = await render(registry ? { 'images.registry': registry } : {});
      const images = objs.flatMap((o) =>
        containersOf(o).map((c) => [o.metadata.labels['app.kubernetes.io/component'], c.image]),
      );
      expect(images.length).toBeGreaterThanOrEqual(5);
      for (const [component, image] of images) {
        expect(image).toBe(floeImage(component as FloeImage, registry));
      }
      expect(new Set(images.map(([c]) => c))).toEqual(
        new Set(['control', 'gateway', 'operator', 'turn']),
      );
      // the session pods' images (streamer, X server) come from the operator's defaults
      const operator = envOf(
        find(objs, 'Deployment', 'floe-operator').spec.template.spec.containers[0],
      );
      expect(operator.FLOE_OPERATOR_IMAGE_REGISTRY).toBe(registry || undefined);
    }
  });

  it('runs every container as uid 1000, read-only, without privileges, with requests and limits', async () => {
    const objs = await render({ 'turn.tlsSecret': 'turn-tls' });
    const workloads = objs.filter((o) => podSpecOf(o));
    expect(workloads.map((o) => o.kind).sort()).toEqual([
      'Deployment',
      'Deployment',
      'Deployment',
      'StatefulSet',
    ]);
    for (const w of workloads) {
      expect(podSpecOf(w)!.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
      for (const c of containersOf(w)) {
        expect(c.securityContext, c.name).toEqual({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
        });
        expect(c.resources.requests.cpu, c.name).toBeTruthy();
        expect(c.resources.limits.memory, c.name).toBeTruthy();
      }
    }
  });

  it('wires the operator for Lease leader election in its namespace, two replicas', async () => {
    const objs = await render();
    const deployment = find(objs, 'Deployment', 'floe-operator');
    expect(deployment.spec.replicas).toBe(2);
    const env = envOf(deployment.spec.template.spec.containers[0]);
    expect(env).toMatchObject({
      FLOE_OPERATOR_LEADER_ELECT: 'true',
      FLOE_OPERATOR_LEADER_ELECTION_NAMESPACE: NAMESPACE,
      FLOE_OPERATOR_ISTIO_GATEWAY: `${NAMESPACE}/floe`,
      FLOE_OPERATOR_INGRESS_POD_LABELS: 'istio=ingressgateway',
    });
    expect(find(objs, 'Role', 'floe-operator-leader-election').rules).toEqual([
      {
        apiGroups: ['coordination.k8s.io'],
        resources: ['leases'],
        verbs: ['get', 'create', 'update'],
      },
    ]);
    const control = find(objs, 'Deployment', 'floe-control').spec.template.spec.containers[0];
    expect(control.env.find((e: Obj) => e.name === 'DATABASE_URL').valueFrom).toEqual({
      secretKeyRef: { name: 'floe-database', key: 'DATABASE_URL' },
    });
  });

  it('gives the control plane and the gateways one gateway key; every Secret key named exists', async () => {
    const objs = await render();
    const refOf = (deployment: string, env: string) =>
      find(objs, 'Deployment', deployment).spec.template.spec.containers[0].env.find(
        (e: Obj) => e.name === env,
      ).valueFrom.secretKeyRef;
    expect(refOf('floe-control', 'FLOE_GATEWAY_TOKEN')).toEqual({
      name: 'floe-generated',
      key: 'gateway-token',
    });
    expect(refOf('floe-gateway', 'FLOE_GATEWAY_CONTROL_TOKEN')).toEqual(
      refOf('floe-control', 'FLOE_GATEWAY_TOKEN'),
    );
    // the chart's own Secret has every key it names; the others are the two made before install
    const generated = find(objs, 'Secret', 'floe-generated');
    const refs = objs.flatMap((o) =>
      containersOf(o).flatMap((c) =>
        (c.env ?? []).flatMap((e: Obj) =>
          e.valueFrom?.secretKeyRef ? [e.valueFrom.secretKeyRef] : [],
        ),
      ),
    );
    expect(refs.length).toBeGreaterThanOrEqual(7);
    for (const ref of refs) {
      if (ref.name === 'floe-generated') expect(Object.keys(generated.data)).toContain(ref.key);
      else
        expect(['floe-database/DATABASE_URL', 'floe-gateway-keys/keys.json']).toContain(
          `${ref.name}/${ref.key}`,
        );
    }
    const admin = Buffer.from(generated.data['admin-token'], 'base64').toString();
    const gateway = Buffer.from(generated.data['gateway-token'], 'base64').toString();
    expect(admin).toMatch(/^[A-Za-z0-9]{40}$/);
    expect(gateway).not.toBe(admin);
    // FLOE_SECRET_KEY: 32 bytes in base64, as the control plane's config demands
    const secretKey = Buffer.from(generated.data['secret-key'], 'base64').toString();
    expect(Buffer.from(secretKey, 'base64')).toHaveLength(32);
  });

  it('puts the ext_authz policy on Istio’s ingress gateway, naming the CUSTOM provider', async () => {
    const objs = await render();
    const policy = find(objs, 'AuthorizationPolicy', 'floe-gateway-sessions');
    expect(policy.metadata.namespace).toBe('istio-system');
    expect(policy.spec).toMatchObject({
      action: 'CUSTOM',
      provider: { name: 'floe-gateway' },
      selector: { matchLabels: { istio: 'ingressgateway' } },
    });
  });

  it('renders turnserver.conf with turn/’s own CLI, from the args the pod runs', async () => {
    const objs = await render({
      'turn.tlsSecret': 'turn-tls',
      'cluster.podCidrs[0]': '10.244.0.0/16',
      'turn.externalIp': '203.0.113.7',
    });
    const init = find(objs, 'StatefulSet', 'floe-turn').spec.template.spec.initContainers[0];
    expect(init.command).toEqual(['/usr/local/bin/node', '/app/turn/src/cli.ts']);
    const secret = 'ZmxvZS10dXJuLXNlY3JldC1mb3ItdGVzdHM';
    const secretFile = join(work, 'turn-secret');
    const out = join(work, 'turnserver.conf');
    writeFileSync(secretFile, secret);
    const args = (init.args as string[]).map((a) =>
      a
        .replace('/etc/floe-turn/secret/turn-secret', secretFile)
        .replace('/run/floe-turn/turnserver.conf', out),
    );
    const errors: string[] = [];
    const status = await turnCli(args, { out: () => {}, err: (t) => errors.push(t) });
    expect(status, errors.join('')).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(
      renderCoturnConfig({
        secrets: [secret],
        realm: 'floe.example.com',
        port: 3478,
        tlsPort: 5349,
        tls: { certFile: '/etc/floe-turn/tls/tls.crt', keyFile: '/etc/floe-turn/tls/tls.key' },
        externalIp: '203.0.113.7',
        allowedPeerRanges: ['10.244.0.0/16'],
        prometheus: false,
        pidFile: '/run/floe-turn/turnserver.pid',
      }),
    );
    // TURNS on 443 at the load balancer, to the unprivileged port in the pod
    const service = find(objs, 'Service', 'floe-turn');
    expect(service.spec.type).toBe('LoadBalancer');
    expect(service.spec.ports).toContainEqual({
      name: 'turns',
      port: 443,
      targetPort: 'turns',
      protocol: 'TCP',
    });
    const gateway = envOf(
      find(objs, 'Deployment', 'floe-gateway').spec.template.spec.containers[0],
    );
    expect(gateway.FLOE_TURN_URLS).toBe(
      'turn:floe.example.com:3478?transport=udp,turn:floe.example.com:3478?transport=tcp,turns:floe.example.com:443?transport=tcp',
    );
  });

  it('alerts and draws only metrics that Floe’s services export', async () => {
    // the names prom-client registers in control/, gateway/, operator/ and turn/, and the
    // default process metrics (unprefixed in the control plane, prefixed elsewhere)
    const sources = ['control/src/metrics.ts', 'gateway/src/metrics.ts', 'operator/src/metrics.ts'];
    const known = new Set(
      sources.flatMap((f) =>
        [...readFileSync(join(REPO, f), 'utf8').matchAll(/name: '(floe_\w+)'/g)].map((m) => m[1]!),
      ),
    );
    const defaults = new Registry();
    collectDefaultMetrics({ register: defaults });
    for (const m of await defaults.getMetricsAsJSON()) {
      for (const prefix of ['', 'floe_gateway_', 'floe_operator_']) known.add(prefix + m.name);
    }
    const objs = await render();
    const rule = objs.find((o) => o.kind === 'PrometheusRule')!;
    const exprs: string[] = rule.spec.groups.flatMap((g: Obj) => g.rules.map((r: Obj) => r.expr));
    const alerts = rule.spec.groups.flatMap((g: Obj) => g.rules.map((r: Obj) => r.alert));
    expect(alerts).toEqual(
      expect.arrayContaining([
        'FloeSessionsFailingToStart',
        'FloeTurnFleetUnhealthy',
        'FloeOperatorNotLeading',
        'FloeQuotaRefusalsSurging',
      ]),
    );
    const dashboards = objs.filter((o) => o.metadata.labels?.grafana_dashboard === '1');
    expect(dashboards.map((d) => d.metadata.name).sort()).toEqual([
      'floe-control-dashboard',
      'floe-gateway-dashboard',
      'floe-operator-dashboard',
      'floe-turn-dashboard',
    ]);
    for (const d of dashboards) {
      const json = JSON.parse(Object.values(d.data as Record<string, string>)[0]!) as Obj;
      expect(json.panels.length, d.metadata.name).toBeGreaterThanOrEqual(4);
      exprs.push(...json.panels.flatMap((p: Obj) => p.targets.map((t: Obj) => t.expr)));
    }
    const used = new Set(
      exprs.flatMap((e) =>
        [...e.matchAll(/\b((?:floe|process|nodejs)_\w+)/g)].map((m) =>
          m[1]!.replace(/_(bucket|count|sum)$/, ''),
        ),
      ),
    );
    expect(used.size).toBeGreaterThan(20);
    expect([...used].filter((name) => !known.has(name))).toEqual([]);
  });
});

describe('the chart in a cluster', () => {
  const variants: Record<string, Values> = {
    defaults: {},
    'TURN on host networking with TLS, a registry, dashboards off': {
      'turn.mode': 'hostNetwork',
      'turn.tlsSecret': 'turn-tls',
      'turn.tlsPort': 5349,
      'turn.nodeSelector.floe\\.dev/turn': 'true',
      'images.registry': 'registry.example:5000',
      'istio.tlsCredentialName': 'floe-cert',
      'monitoring.dashboards': false,
    },
  };

  for (const [name, values] of Object.entries(variants)) {
    it(`is accepted by the API server as rendered (server-side dry run): ${name}`, async () => {
      const out = await helmOk([
        'template',
        'floe',
        CHART,
        '-n',
        NAMESPACE,
        '--include-crds',
        ...setArgs({ ...INSTALL_VALUES, ...values }),
      ]);
      // as helm install does: namespaced objects without a namespace go to the release's
      const items = parseAllDocuments(out)
        .map((d) => d.toJS() as Obj | null)
        .filter((o): o is Obj => o !== null)
        .map((o) =>
          CLUSTER_SCOPED.has(o.kind) || o.metadata.namespace
            ? o
            : { ...o, metadata: { ...o.metadata, namespace: NAMESPACE } },
        );
      expect(items.length).toBeGreaterThanOrEqual(25);
      const r = await kubectl(
        ['apply', '--dry-run=server', '-f', '-'],
        JSON.stringify({ apiVersion: 'v1', kind: 'List', items }),
      );
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(
        /prometheusrule\.monitoring\.coreos\.com\/floe-alerts created \(server dry run\)/,
      );
      expect(r.stdout).toMatch(
        /authorizationpolicy\.security\.istio\.io\/floe-gateway-sessions created/,
      );
    });
  }

  it('installs with every workload ready, upgrades by rolling, uninstalls leaving CRDs and home volumes', async () => {
    const install = await helmOk([
      'install',
      'floe',
      CHART,
      '-n',
      NAMESPACE,
      '--kubeconfig',
      cluster.kubeconfig,
      '--wait',
      '--timeout',
      '120s',
      ...setArgs(INSTALL_VALUES),
    ]);
    // NOTES.txt: the URL and how to read the first admin key
    expect(install).toContain('https://floe.test.example');
    expect(install).toContain(
      `kubectl -n ${NAMESPACE} get secret floe-generated -o jsonpath='{.data.admin-token}' | base64 -d`,
    );
    const ready = async () => {
      const list = await kubectlJson([
        'get',
        'deployments,statefulsets,daemonsets',
        '-n',
        NAMESPACE,
      ]);
      return Object.fromEntries(
        list.items.map((o: Obj) => [
          `${o.kind}/${o.metadata.name}`,
          `${o.status.readyReplicas ?? o.status.numberReady ?? 0}/${o.spec.replicas ?? o.status.desiredNumberScheduled}`,
        ]),
      );
    };
    expect(await ready()).toEqual({
      'Deployment/floe-control': '2/2',
      'Deployment/floe-gateway': '2/2',
      'Deployment/floe-operator': '2/2',
      'StatefulSet/floe-turn': '2/2',
    });
    // Floe's pods stay off the GPU node
    const pods = await kubectlJson(['get', 'pods', '-n', NAMESPACE]);
    expect(pods.items.length).toBe(8);
    for (const p of pods.items) expect(p.spec.nodeName).toMatch(/^chart-cpu-/);
    const generated = await kubectlJson(['get', 'secret', 'floe-generated', '-n', NAMESPACE]);

    // an upgrade: more control-plane replicas, images from a registry; the pods roll
    const before = new Set(pods.items.map((p: Obj) => p.metadata.uid));
    await helmOk([
      'upgrade',
      'floe',
      CHART,
      '-n',
      NAMESPACE,
      '--kubeconfig',
      cluster.kubeconfig,
      '--wait',
      '--timeout',
      '120s',
      ...setArgs({
        ...INSTALL_VALUES,
        'control.replicas': 3,
        'images.registry': 'registry.example:5000',
      }),
    ]);
    expect(await ready()).toEqual({
      'Deployment/floe-control': '3/3',
      'Deployment/floe-gateway': '2/2',
      'Deployment/floe-operator': '2/2',
      'StatefulSet/floe-turn': '2/2',
    });
    const rolled = await kubectlJson(['get', 'pods', '-n', NAMESPACE]);
    // the Deployments roll to new pods; the old ones are gone once terminated
    await expect
      .poll(async () => (await kubectlJson(['get', 'pods', '-n', NAMESPACE])).items.length, {
        timeout: 60_000,
      })
      .toBe(9);
    for (const p of (await kubectlJson(['get', 'pods', '-n', NAMESPACE])).items) {
      expect(before.has(p.metadata.uid), `${p.metadata.name} was not replaced`).toBe(false);
      for (const c of p.spec.containers) expect(c.image).toMatch(/^registry\.example:5000\/floe\//);
    }
    expect(rolled.items.length).toBeGreaterThanOrEqual(9);
    // the admin key, the secret key and the TURN secret survive the upgrade
    const kept = await kubectlJson(['get', 'secret', 'floe-generated', '-n', NAMESPACE]);
    expect(kept.data).toEqual(generated.data);

    // what the operator makes for a session outlives Floe: a Session and its home volume
    const tenant = 'floe-tenant-acme';
    expect((await kubectl(['create', 'namespace', tenant])).code).toBe(0);
    const home = {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: {
        name: 'home-alice',
        namespace: tenant,
        labels: { 'app.kubernetes.io/managed-by': 'floe-operator' },
      },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
    };
    const applied = await kubectl(['apply', '-f', '-'], JSON.stringify(home));
    expect(applied.code, applied.stderr).toBe(0);

    const manifest = await helmOk([
      'get',
      'manifest',
      'floe',
      '-n',
      NAMESPACE,
      '--kubeconfig',
      cluster.kubeconfig,
    ]);
    const owned = parseAllDocuments(manifest)
      .map((d) => d.toJS() as Obj | null)
      .filter((o): o is Obj => o !== null);
    expect(owned.length).toBeGreaterThan(30);
    await helmOk([
      'uninstall',
      'floe',
      '-n',
      NAMESPACE,
      '--kubeconfig',
      cluster.kubeconfig,
      '--wait',
      '--timeout',
      '120s',
    ]);
    for (const o of owned) {
      const ns = o.metadata.namespace ?? (CLUSTER_SCOPED.has(o.kind) ? undefined : NAMESPACE);
      const r = await kubectl(['get', o.kind, o.metadata.name, ...(ns ? ['-n', ns] : [])]);
      expect(r.code, `${o.kind} ${o.metadata.name} outlived the uninstall`).not.toBe(0);
      expect(r.stderr).toMatch(/NotFound/);
    }
    expect((await kubectl(['get', 'crd', 'sessions.floe.dev'])).code).toBe(0);
    expect((await kubectl(['get', 'pvc', 'home-alice', '-n', tenant])).code).toBe(0);
  }, 420_000);

  const bad: [string, Values, RegExp][] = [
    [
      'a negative replica count',
      { 'control.replicas': -1 },
      /at '\/control\/replicas': minimum: got -1, want 0/,
    ],
    [
      'a malformed DATABASE_URL Secret name',
      { 'database.secretName': 'Floe_DB' },
      /at '\/database\/secretName': 'Floe_DB' does not match pattern/,
    ],
    [
      'a GPU SKU of an unknown format',
      { 'gpu.skus[0]': 'A100 80GB' },
      /at '\/gpu\/skus\/0': 'A100 80GB' does not match pattern/,
    ],
  ];
  for (const [what, values, message] of bad) {
    it(`refuses ${what} at install, with the schema's message, creating nothing`, async () => {
      const r = await helm([
        'install',
        'floe-bad',
        CHART,
        '-n',
        NAMESPACE,
        '--kubeconfig',
        cluster.kubeconfig,
        ...setArgs({ ...INSTALL_VALUES, ...values }),
      ]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/values don't meet the specifications of the schema/);
      expect(r.stderr).toMatch(message);
      const status = await helm([
        'status',
        'floe-bad',
        '-n',
        NAMESPACE,
        '--kubeconfig',
        cluster.kubeconfig,
      ]);
      expect(status.code).not.toBe(0);
      expect(status.stderr).toMatch(/release: not found/);
    });
  }
});
