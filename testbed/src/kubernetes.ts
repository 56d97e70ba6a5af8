// Real Kubernetes clusters on loopback: kube-apiserver, kube-controller-manager,
// kube-scheduler and etcd built from their Go modules (pinned by the wrapper modules in
// testbed/k8s/), run by `kwokctl --runtime binary`. KWOK fakes the nodes (GPU ones included)
// and drives the pods the real scheduler binds to them.
import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { cacheDir } from './cache.ts';
import { withHostLock } from './host-lock.ts';
import { isAlive } from './process.ts';

const k8sDir = fileURLToPath(new URL('../k8s/', import.meta.url));

/** The binaries kwokctl runs, keyed by their command name, with the module that pins each. */
const binaries = {
  'kube-apiserver': { module: 'kubernetes', pkg: 'k8s.io/kubernetes/cmd/kube-apiserver' },
  'kube-controller-manager': {
    module: 'kubernetes',
    pkg: 'k8s.io/kubernetes/cmd/kube-controller-manager',
  },
  'kube-scheduler': { module: 'kubernetes', pkg: 'k8s.io/kubernetes/cmd/kube-scheduler' },
  kubectl: { module: 'kubernetes', pkg: 'k8s.io/kubernetes/cmd/kubectl' },
  etcd: { module: 'kubernetes', pkg: 'go.etcd.io/etcd/server/v3' },
  kwok: { module: 'kwok', pkg: 'sigs.k8s.io/kwok/cmd/kwok' },
  kwokctl: { module: 'kwok', pkg: 'sigs.k8s.io/kwok/cmd/kwokctl' },
} as const;

/** The wrapper modules of testbed/k8s/, each pinning one upstream. */
export type Module = 'kubernetes' | 'kwok' | 'istio' | 'helm' | 'prometheus-operator';
export type KubernetesBinaryName = keyof typeof binaries;

export interface KubernetesBinaries {
  /** the versioned cache folder holding them */
  dir: string;
  versions: { kubernetes: string; etcd: string; kwok: string };
  paths: Record<KubernetesBinaryName, string>;
  /** KWOK's Stage objects (node and pod lifecycles) as one YAML file, from the kwok module */
  stages: string;
}

/** A module's required version of `path`, read from its go.mod: the pins live there only. */
export function pinned(module: Module, path: string): string {
  const gomod = readFileSync(join(k8sDir, module, 'go.mod'), 'utf8');
  const m = gomod.match(new RegExp(`^\\s*${path.replaceAll('.', '\\.')} (v\\S+)`, 'm'));
  if (!m?.[1]) throw new Error(`${path} is not required by ${join(k8sDir, module, 'go.mod')}`);
  return m[1];
}

export function kubernetesVersions(): KubernetesBinaries['versions'] {
  return {
    kubernetes: pinned('kubernetes', 'k8s.io/kubernetes'),
    etcd: pinned('kubernetes', 'go.etcd.io/etcd/server/v3'),
    kwok: pinned('kwok', 'sigs.k8s.io/kwok'),
  };
}

export function istioVersion(): string {
  return pinned('istio', 'istio.io/api');
}

function binDir(v: KubernetesBinaries['versions']): string {
  // every pin is in the name, so moving any of them builds afresh beside the old build
  return cacheDir('k8s', `${v.kubernetes}-etcd-${v.etcd}-kwok-${v.kwok}`);
}

export function goJson<T>(module: Module, args: string[]): T {
  const cwd = join(k8sDir, module);
  return JSON.parse(execFileSync('go', args, { cwd, encoding: 'utf8' })) as T;
}

/**
 * Istio's CustomResourceDefinitions (VirtualService, Gateway, ...) as published in the
 * `istio.io/api` module that testbed/k8s/istio/go.mod pins: one YAML stream of 15 CRDs.
 */
export function istioCrdsPath(): string {
  const { Dir, Error: error } = goJson<{ Dir?: string; Error?: string }>('istio', [
    'mod',
    'download',
    '-json',
    'istio.io/api',
  ]);
  if (!Dir) throw new Error(`go mod download istio.io/api failed: ${error}`);
  return join(Dir, 'kubernetes', 'customresourcedefinitions.gen.yaml');
}

export function prometheusOperatorVersion(): string {
  return pinned('prometheus-operator', 'github.com/prometheus-operator/prometheus-operator');
}

/**
 * The Prometheus operator's CustomResourceDefinitions (ServiceMonitor, PrometheusRule, ...)
 * as published in the module that testbed/k8s/prometheus-operator/go.mod pins, in its
 * example/prometheus-operator-crd/ folder: one file per CRD.
 */
export function prometheusOperatorCrdsPaths(): string[] {
  const { Dir, Error: error } = goJson<{ Dir?: string; Error?: string }>('prometheus-operator', [
    'mod',
    'download',
    '-json',
    'github.com/prometheus-operator/prometheus-operator',
  ]);
  if (!Dir) throw new Error(`go mod download of the prometheus-operator module failed: ${error}`);
  const dir = join(Dir, 'example', 'prometheus-operator-crd');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => join(dir, f));
}

/** Version variables, so that `kube-apiserver --version` is right: kwokctl parses it. */
function ldflags(module: Module, v: KubernetesBinaries['versions']): string {
  // -s -w: no symbol table nor DWARF, like upstream's release build (and a faster link)
  if (module === 'kwok') {
    return `-s -w -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${v.kubernetes.slice(1)}`;
  }
  const [major, minor] = v.kubernetes.slice(1).split('.');
  // the release's own time rather than now, so that a rebuild yields the same binary
  const { Time } = goJson<{ Time: string }>('kubernetes', [
    'list',
    '-m',
    '-json',
    'k8s.io/kubernetes',
  ]);
  const vars = {
    gitVersion: v.kubernetes,
    gitMajor: major,
    gitMinor: minor,
    gitTreeState: 'clean',
    buildDate: Time.replace(/\.\d+Z$/, 'Z'),
  };
  // the variables and packages of upstream's hack/lib/version.sh
  const x = Object.entries(vars).flatMap(([k, val]) =>
    ['k8s.io/client-go/pkg/version', 'k8s.io/component-base/version'].map(
      (pkg) => `-X ${pkg}.${k}=${val}`,
    ),
  );
  return ['-s', '-w', ...x].join(' ');
}

/**
 * The Stage files kwokctl would embed by default (kustomize/stage/fast: node initialisation,
 * node heartbeat with lease, pods to Running and deleted), followed through their
 * kustomization.yaml lists so that a new kwok pin brings its own set.
 */
function kwokStages(): string {
  const { Dir } = goJson<{ Dir: string }>('kwok', ['mod', 'download', '-json', 'sigs.k8s.io/kwok']);
  const collect = (dir: string): string[] =>
    readFileSync(join(dir, 'kustomization.yaml'), 'utf8')
      .split('\n')
      .flatMap((line) => line.match(/^- (\S+)$/)?.[1] ?? [])
      .flatMap((res) => {
        const path = join(dir, res);
        return statSync(path).isDirectory() ? collect(path) : [readFileSync(path, 'utf8')];
      });
  return collect(join(Dir, 'kustomize', 'stage', 'fast')).join('\n---\n');
}

export function formatElapsed(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** `go build` of one binary, counting the packages it compiles (`-v`) for progress lines. */
async function goBuild(
  name: KubernetesBinaryName,
  out: string,
  ldflags: string,
  parallelism: number,
  onPackage: () => void,
): Promise<void> {
  const { module, pkg } = binaries[name];
  const cwd = join(k8sDir, module);
  const args = [
    'build',
    '-v',
    '-p',
    String(parallelism),
    '-trimpath',
    // upstream's release build tags (hack/lib/golang.sh)
    '-tags',
    'selinux,notest,grpcnotrace',
    '-ldflags',
    ldflags,
    '-o',
    out,
    pkg,
  ];
  await new Promise<void>((resolve, reject) => {
    const child = spawn('go', args, {
      cwd,
      // static binaries, as upstream builds these; -mod=readonly keeps go.mod the only pin
      env: {
        ...process.env,
        CGO_ENABLED: '0',
        GOFLAGS: [process.env.GOFLAGS, '-mod=readonly', '-trimpath'].filter(Boolean).join(' '),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let tail = '';
    createInterface({ input: child.stderr }).on('line', (line) => {
      // an import path alone on its line is a package compiled; anything else is a message
      if (/^[\w.-]+(\/[\w.~+-]+)*$/.test(line)) onPackage();
      else tail = `${tail}${line}\n`.slice(-4000);
    });
    child.on('error', (err) =>
      reject(new Error(`cannot run go (Go 1.26+ must be on PATH): ${err.message}`)),
    );
    child.on('exit', (code, signal) => {
      if (code === 0) resolve();
      else {
        const how = signal ?? `exit ${code}`;
        reject(new Error(`go build of ${pkg} in ${cwd} failed (${how}):\n${tail}`));
      }
    });
  });
}

/**
 * Builds whatever is missing into `~/.cache/floe/k8s/<pins>/` (XDG_CACHE_HOME respected) and
 * returns the paths. A cold build compiles a few thousand packages, which takes long on a
 * small machine: a progress line goes to `onProgress` (default: stderr) every 15 s.
 */
export async function ensureKubernetesBinaries(
  opts: { onProgress?: (line: string) => void; parallelism?: number } = {},
): Promise<KubernetesBinaries> {
  const log = opts.onProgress ?? ((line: string) => console.error(line));
  const versions = kubernetesVersions();
  const dir = binDir(versions);
  const bin = join(dir, 'bin');
  const names = Object.keys(binaries) as KubernetesBinaryName[];
  const paths = Object.fromEntries(names.map((n) => [n, join(bin, n)])) as Record<
    KubernetesBinaryName,
    string
  >;
  const stages = join(dir, 'kwok-stages.yaml');
  const result = { dir, versions, paths, stages };
  const missing = names.filter((name) => !existsSync(paths[name]));
  if (missing.length === 0 && existsSync(stages)) return result;

  mkdirSync(bin, { recursive: true });
  // private names renamed into place when complete: a killed or concurrent build never
  // leaves a truncated file under the final name
  const partial = (path: string) => `${path}.${process.pid}.partial`;
  if (!existsSync(stages)) {
    writeFileSync(partial(stages), kwokStages());
    renameSync(partial(stages), stages);
  }
  if (missing.length === 0) return result;

  const started = Date.now();
  const flags = { kubernetes: ldflags('kubernetes', versions), kwok: ldflags('kwok', versions) };
  const parallelism = opts.parallelism ?? availableParallelism();
  log(`[k8s] building ${missing.join(', ')} into ${bin}; a cold build takes many minutes`);
  for (const name of missing) {
    const t0 = Date.now();
    let compiled = 0;
    const tick = setInterval(() => {
      const now = Date.now();
      log(
        `[k8s] ${name}: ${compiled} packages compiled in ${formatElapsed(now - t0)} ` +
          `(build total ${formatElapsed(now - started)})`,
      );
    }, 15_000);
    const out = partial(paths[name]);
    try {
      await goBuild(name, out, flags[binaries[name].module], parallelism, () => compiled++);
      renameSync(out, paths[name]);
    } finally {
      clearInterval(tick);
      rmSync(out, { force: true });
    }
    log(`[k8s] built ${name} in ${formatElapsed(Date.now() - t0)} (${compiled} packages)`);
  }
  log(`[k8s] binaries ready in ${formatElapsed(Date.now() - started)}`);
  return result;
}

// ---------------------------------------------------------------------------------------
// Clusters

export interface GpuNodePool {
  /** value of the `floe.dev/gpu-sku` label, e.g. `a100` */
  sku: string;
  count: number;
  gpusPerNode: number;
}

export interface KubernetesClusterSpec {
  /** the kwokctl cluster name; also the prefix of its node names */
  name: string;
  /** label `topology.kubernetes.io/region` of its nodes and ConfigMap kube-public/floe-cluster */
  region: string;
  gpuNodes: GpuNodePool[];
  cpuNodes: number;
}

export interface KubernetesCluster {
  name: string;
  region: string;
  kubeconfig: string;
  /** the components' logs (etcd.log, kube-apiserver.log, ...) */
  logs: string;
}

export interface KubernetesClusters {
  clusters: KubernetesCluster[];
  binaries: KubernetesBinaries;
  /** runs the built kubectl against a cluster; rejects with its stderr */
  kubectl(cluster: KubernetesCluster, args: string[], input?: string): Promise<string>;
  /** deletes every cluster and leaves no process of theirs behind */
  stop(): void;
}

/** Runs a command to completion within a bound; rejects naming it, with its stderr's end. */
function run(
  file: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs: number },
): Promise<string> {
  return new Promise((resolve, reject) => {
    // spawns: kubectl (and what other callers pass)
    const child = execFile(
      file,
      args,
      { env: opts.env, encoding: 'utf8', timeout: opts.timeoutMs, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const why = err.killed ? `timed out after ${opts.timeoutMs / 1000}s` : err.message;
        const cmd = `${file.split('/').pop()} ${args.join(' ')}`;
        reject(new Error(`${cmd}: ${why}\n${(stderr || stdout).slice(-2000)}`));
      },
    );
    child.stdin?.end(opts.input ?? '');
  });
}

const gpuNodeResources = { cpu: '64', memory: '512Gi', pods: '110' };
const cpuNodeResources = { cpu: '16', memory: '64Gi', pods: '110' };

function nodeObject(
  name: string,
  region: string,
  resources: Record<string, string>,
  labels: Record<string, string> = {},
) {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      // KWOK's mark for a node it fakes; kwokctl's binary runtime has its controller manage
      // every node anyway, but a controller run with the annotation selector needs it
      annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'node-role.kubernetes.io/agent': '',
        type: 'kwok',
        'topology.kubernetes.io/region': region,
        'topology.kubernetes.io/zone': `${region}-a`,
        ...labels,
      },
    },
    // the API server accepts a Node's status on create; KWOK keeps capacity as given
    status: { capacity: resources, allocatable: resources },
  };
}

function nodesOf(spec: KubernetesClusterSpec) {
  const gpu = spec.gpuNodes.flatMap((pool) =>
    Array.from({ length: pool.count }, (_, i) =>
      nodeObject(
        `${spec.name}-gpu-${pool.sku}-${i}`,
        spec.region,
        { ...gpuNodeResources, 'nvidia.com/gpu': String(pool.gpusPerNode) },
        { 'floe.dev/gpu-sku': pool.sku, 'nvidia.com/gpu.present': 'true' },
      ),
    ),
  );
  const cpu = Array.from({ length: spec.cpuNodes }, (_, i) =>
    nodeObject(`${spec.name}-cpu-${i}`, spec.region, cpuNodeResources),
  );
  // KWOK gives pods addresses from their node's podCIDR, else from one /24 for the whole
  // cluster, which runs out at 253 pods: each node gets its own /24, as node IPAM would
  return [...gpu, ...cpu].map((node, i) => ({
    ...node,
    spec: { podCIDR: `10.${128 + (i >> 8)}.${i & 255}.0/24` },
  }));
}

/**
 * KWOK runs no volume provisioner, so claims are bound by the real PV controller of
 * kube-controller-manager to a pool of pre-made hostPath volumes (never mounted: KWOK runs no
 * containers). Retain keeps a volume's data, and its claimRef, after its claim is deleted.
 */
export interface TestStorage {
  /** how many PersistentVolumes (`<cluster>-pv-<i>`) to create */
  pvs: number;
  /** capacity of each, default 10Gi */
  size?: string;
}

/** Name of the default StorageClass that `storage` creates. */
export const TEST_STORAGE_CLASS = 'floe-test';

function storageObjects(cluster: string, storage: TestStorage) {
  const storageClass = {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: {
      name: TEST_STORAGE_CLASS,
      annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' },
    },
    // no dynamic provisioning; Immediate: bound as soon as a claim exists, as a person
    // watching `kubectl get pvc` expects, without waiting for a pod to be scheduled
    provisioner: 'kubernetes.io/no-provisioner',
    reclaimPolicy: 'Retain',
    volumeBindingMode: 'Immediate',
  };
  const pvs = Array.from({ length: storage.pvs }, (_, i) => ({
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name: `${cluster}-pv-${i}`, labels: { 'floe.dev/test-pool': 'true' } },
    spec: {
      capacity: { storage: storage.size ?? '10Gi' },
      accessModes: ['ReadWriteOnce'],
      persistentVolumeReclaimPolicy: 'Retain',
      storageClassName: TEST_STORAGE_CLASS,
      hostPath: { path: `/var/lib/floe-test/${cluster}/pv-${i}`, type: 'DirectoryOrCreate' },
    },
  }));
  return [storageClass, ...pvs];
}

const readPid = (file: string) => Number(readFileSync(file, 'utf8').trim());

/**
 * The running components of a kwokctl cluster, from its pid files, keeping only processes
 * whose working directory is still the cluster's folder: a pid file left by a crash may name
 * a pid reused by an unrelated process, which must never be killed.
 */
function clusterProcesses(clusterDir: string): number[] {
  const pidsDir = join(clusterDir, 'pids');
  if (!existsSync(pidsDir)) return [];
  const real = realpathSync(clusterDir); // /proc shows the resolved path
  return readdirSync(pidsDir).flatMap((file) => {
    const pid = readPid(join(pidsDir, file));
    let cwd = '';
    try {
      cwd = readlinkSync(`/proc/${pid}/cwd`);
    } catch {}
    if (cwd === real) return [pid];
    rmSync(join(pidsDir, file), { force: true }); // stale: kwokctl must not act on it
    return [];
  });
}

/** Which components of a cluster are not running, each with the end of its log. */
function diagnose(clusterDir: string): string {
  const logs = join(clusterDir, 'logs');
  if (!existsSync(logs)) return 'no component was started';
  const down = readdirSync(logs)
    .map((f) => f.replace(/\.log$/, ''))
    .filter((name) => {
      const pidFile = join(clusterDir, 'pids', `${name}.pid`);
      return !existsSync(pidFile) || !isAlive(readPid(pidFile));
    });
  if (down.length === 0) return 'all its components are running';
  return down
    .map((name) => {
      const lines = readFileSync(join(logs, `${name}.log`), 'utf8')
        .trimEnd()
        .split('\n');
      return `${name} is not running; its log ends with:\n  ${lines.slice(-8).join('\n  ')}`;
    })
    .join('\n');
}

interface KwokContext {
  kwokctl: string;
  kwokWorkdir: string;
  env: NodeJS.ProcessEnv;
  log: (line: string) => void;
}

/** Deletes one kwokctl cluster and kills whatever of it outlived kwokctl. */
function deleteKwokCluster(ctx: KwokContext, name: string, keepLogsIn?: string) {
  const { kwokWorkdir } = ctx;
  const dir = join(kwokWorkdir, 'clusters', name);
  if (!existsSync(dir)) return;
  const pids = clusterProcesses(dir);
  if (keepLogsIn && existsSync(join(dir, 'logs'))) {
    rmSync(keepLogsIn, { recursive: true, force: true });
    mkdirSync(dirname(keepLogsIn), { recursive: true });
    renameSync(join(dir, 'logs'), keepLogsIn);
  }
  // spawns: kwokctl
  const r = spawnSync(
    ctx.kwokctl,
    ['--name', name, 'delete', 'cluster', '--kubeconfig', join(kwokWorkdir, 'kubeconfig.yaml')],
    { env: ctx.env, encoding: 'utf8', timeout: 60_000 },
  );
  // kwokctl SIGKILLs them; whatever outlived a failed kwokctl is killed here
  for (const pid of pids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
  rmSync(join(kwokWorkdir, `${name}.kwokctl.yaml`), { force: true });
  if (r.status !== 0) ctx.log(`[k8s] kwokctl delete cluster ${name}: ${r.stderr || r.error}`);
}

/** Deletes clusters that startKubernetesClusters started in `workDir`, from any process. */
export async function stopKubernetesClusters(workDir: string, names: string[]) {
  const bins = await ensureKubernetesBinaries({ onProgress: () => {} });
  const kwokWorkdir = resolve(workDir, 'kwok');
  const env = {
    ...process.env,
    KWOK_WORKDIR: kwokWorkdir,
    PATH: `${dirname(bins.paths.kubectl)}:${process.env.PATH ?? ''}`,
  };
  for (const name of names) {
    deleteKwokCluster({ kwokctl: bins.paths.kwokctl, kwokWorkdir, env, log: console.error }, name);
  }
}

/**
 * Starts one kwokctl cluster per spec, one after the other (kwokctl picks free ports by
 * looking at its other clusters, so concurrent creates could pick the same), each with its
 * own etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok controller on
 * 127.0.0.1, then adds the fake nodes and waits until they are Ready.
 *
 * `workDir` holds kwok's state (KWOK_WORKDIR); keep it stable across runs: a cluster of the
 * same name left there by a crashed run is deleted first. When a cluster fails to come up,
 * its logs are kept in `<workDir>/kwok/failed/<name>/` and the error names the components
 * that are down.
 */
export async function startKubernetesClusters(opts: {
  clusters: KubernetesClusterSpec[];
  workDir: string;
  binaries?: KubernetesBinaries;
  onProgress?: (line: string) => void;
  /** bound of each wait (cluster up, nodes Ready, ...), default 120 s */
  timeoutMs?: number;
  /** install Istio's CRDs (networking.istio.io VirtualService, Gateway, ...) in every cluster */
  istio?: boolean;
  /** install the Prometheus operator's CRDs (monitoring.coreos.com ServiceMonitor, ...) */
  prometheusOperator?: boolean;
  /** a default StorageClass and a pool of static PersistentVolumes in every cluster */
  storage?: TestStorage;
}): Promise<KubernetesClusters> {
  const log = opts.onProgress ?? ((line: string) => console.error(line));
  const bins = opts.binaries ?? (await ensureKubernetesBinaries({ onProgress: log }));
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const waitFlag = `${Math.ceil(timeoutMs / 1000)}s`;
  const kwokWorkdir = resolve(opts.workDir, 'kwok');
  mkdirSync(kwokWorkdir, { recursive: true });
  // kwokctl runs the first kubectl on PATH (to probe the API server): ours comes first
  const env = {
    ...process.env,
    KWOK_WORKDIR: kwokWorkdir,
    PATH: `${dirname(bins.paths.kubectl)}:${process.env.PATH ?? ''}`,
  };
  const clusterDir = (name: string) => join(kwokWorkdir, 'clusters', name);
  // kwokctl adds each cluster as a context of a kubeconfig (and removes it on delete): this
  // one, shared by the clusters of this workDir, rather than the user's ~/.kube/config
  const sharedKubeconfig = join(kwokWorkdir, 'kubeconfig.yaml');

  const deleteCluster = (name: string, keepLogsIn?: string) =>
    deleteKwokCluster({ kwokctl: bins.paths.kwokctl, kwokWorkdir, env, log }, name, keepLogsIn);

  const kubectl = (c: KubernetesCluster, args: string[], input?: string) =>
    run(bins.paths.kubectl, ['--kubeconfig', c.kubeconfig, ...args], { input, timeoutMs });

  // one list of CRD files applied to every cluster: Istio's, the Prometheus operator's
  const crdFiles = [
    ...(opts.istio ? [istioCrdsPath()] : []),
    ...(opts.prometheusOperator ? prometheusOperatorCrdsPaths() : []),
  ];

  const started: KubernetesCluster[] = [];
  const stop = () => {
    for (const c of started.splice(0)) deleteCluster(c.name);
  };

  /** kwokctl create: every component started on its own ports, the API server serving */
  const createCluster = (spec: KubernetesClusterSpec, config: string) =>
    run(
      bins.paths.kwokctl,
      [
        '--name',
        spec.name,
        `--config=${config}`,
        'create',
        'cluster',
        '--kubeconfig',
        sharedKubeconfig,
        `--wait=${waitFlag}`,
        `--timeout=${waitFlag}`,
      ],
      { env, timeoutMs: 2 * timeoutMs + 10_000 },
    );

  const startOne = async (spec: KubernetesClusterSpec, cluster: KubernetesCluster) => {
    const config = join(kwokWorkdir, `${spec.name}.kwokctl.yaml`);
    const kwokctlConfig = {
      apiVersion: 'config.kwok.x-k8s.io/v1alpha1',
      kind: 'KwokctlConfiguration',
      options: {
        runtime: 'binary',
        bindAddress: '127.0.0.1',
        kubeApiserverBinary: bins.paths['kube-apiserver'],
        kubeControllerManagerBinary: bins.paths['kube-controller-manager'],
        kubeSchedulerBinary: bins.paths['kube-scheduler'],
        kubectlBinary: bins.paths.kubectl,
        etcdBinary: bins.paths.etcd,
        kwokControllerBinary: bins.paths.kwok,
        kubeVersion: bins.versions.kubernetes,
        etcdVersion: bins.versions.etcd.slice(1),
        kwokVersion: bins.versions.kwok,
        quietPull: true,
      },
      // kube-apiserver's default Service range is a /24: 253 Services, one per session
      componentsPatches: [
        {
          name: 'kube-apiserver',
          extraArgs: [{ key: 'service-cluster-ip-range', value: '10.96.0.0/16' }],
        },
      ],
    };
    // JSON is YAML; kwok v0.8 takes its Stages from the same --config, as further documents
    writeFileSync(config, `${JSON.stringify(kwokctlConfig)}\n---\n${readFileSync(bins.stages)}`);
    // kwokctl waits up to --timeout for the API server to serve, then up to --wait for /healthz
    // kwokctl picks each component's port by trying to bind from 32767 downwards, and only
    // knows of the clusters of its own KWOK_WORKDIR: another process creating a cluster
    // elsewhere at the same moment (vitest runs test files in parallel processes) would pick
    // the same ports. One create at a time on this machine, until its components listen.
    await withHostLock(
      'floe-testbed-kwokctl-create',
      async () => {
        await createCluster(spec, config);
        // kwokctl only logs an API server that never became ready: ask it directly
        await kubectl(cluster, ['get', '--raw', '/readyz']);
      },
      {
        timeoutMs: 4 * timeoutMs,
        onWait: () => log(`[k8s] ${spec.name}: waiting for another kwokctl create to finish`),
      },
    );
    const nodes = nodesOf(spec);
    await kubectl(
      cluster,
      ['apply', '-f', '-'],
      JSON.stringify({ apiVersion: 'v1', kind: 'List', items: nodes }),
    );
    await kubectl(cluster, [
      'create',
      'configmap',
      'floe-cluster',
      '--namespace=kube-public',
      `--from-literal=name=${spec.name}`,
      `--from-literal=region=${spec.region}`,
    ]);
    // Ready comes from KWOK's node-initialize Stage: the kwok controller is at work
    if (nodes.length > 0) {
      await kubectl(cluster, [
        'wait',
        '--for=condition=Ready',
        'nodes',
        '--all',
        `--timeout=${waitFlag}`,
      ]);
    }
    // the controller-manager's serviceaccount controller makes it; pods need it to be admitted
    await kubectl(cluster, [
      'wait',
      '--for=create',
      'serviceaccount/default',
      '--namespace=default',
      `--timeout=${waitFlag}`,
    ]);
    if (opts.storage) {
      const items = storageObjects(spec.name, opts.storage);
      await kubectl(
        cluster,
        ['apply', '-f', '-'],
        JSON.stringify({ apiVersion: 'v1', kind: 'List', items }),
      );
    }
    if (crdFiles.length > 0) {
      const files = crdFiles.flatMap((f) => ['-f', f]);
      // server-side: the CRDs are too large for client-side apply's last-applied annotation
      await kubectl(cluster, ['apply', '--server-side', '--field-manager=floe-testbed', ...files]);
      await kubectl(cluster, [
        'wait',
        '--for=condition=Established',
        ...files,
        `--timeout=${waitFlag}`,
      ]);
    }
  };

  try {
    for (const spec of opts.clusters) {
      const t0 = Date.now();
      deleteCluster(spec.name);
      const cluster: KubernetesCluster = {
        name: spec.name,
        region: spec.region,
        kubeconfig: join(clusterDir(spec.name), 'kubeconfig.yaml'),
        logs: join(clusterDir(spec.name), 'logs'),
      };
      started.push(cluster);
      try {
        await startOne(spec, cluster);
        // a component that crashed meanwhile (kwokctl restarts none) fails the start now
        const state = diagnose(clusterDir(spec.name));
        if (state !== 'all its components are running') throw new Error(state);
        // kwokctl's kubeconfig names its certificate files; Floe's control plane takes inline
        // credentials only (it must never read files a kubeconfig names): embed them
        const inline = join(clusterDir(spec.name), 'kubeconfig.inline.yaml');
        const flat = await kubectl(cluster, ['config', 'view', '--raw', '--flatten', '--minify']);
        writeFileSync(inline, flat, { mode: 0o600 });
        cluster.kubeconfig = inline;
      } catch (err) {
        const kept = join(kwokWorkdir, 'failed', spec.name);
        const state = diagnose(clusterDir(spec.name));
        started.pop();
        deleteCluster(spec.name, kept);
        throw new Error(
          `Kubernetes cluster ${spec.name} did not come up: ${(err as Error).message}\n` +
            `${state}\nits logs are kept in ${kept}`,
        );
      }
      log(
        `[k8s] cluster ${spec.name} (${spec.region}) up in ${formatElapsed(Date.now() - t0)}; ` +
          `kubeconfig ${cluster.kubeconfig}`,
      );
    }
  } catch (err) {
    stop();
    throw err;
  }
  return { clusters: [...started], binaries: bins, kubectl, stop };
}
