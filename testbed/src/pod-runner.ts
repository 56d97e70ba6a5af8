// A kubelet's part, played with runc: a Kubernetes Pod object's containers run from OCI image
// layouts, with the pod's volumes (emptyDir → a host folder, Secret → its files, claim → a
// folder per claim that outlives the pod), its environment (Secret references resolved),
// user, groups and dropped capabilities. What it does not play: the pod's own network
// namespace (the containers share the host's, as a hostNetwork pod would: coturn and the
// gateway on loopback reach the streamer there), resource limits and probes.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { editBundle, unpackBundle } from './runc.ts';

/** The parts of a v1 Pod that are run here. */
export interface PodObject {
  metadata: { name: string; namespace: string; uid?: string };
  spec: {
    securityContext?: { runAsUser?: number; runAsGroup?: number; fsGroup?: number };
    /** init containers; those with restartPolicy Always are sidecars (kept running) */
    initContainers?: PodContainer[];
    containers: PodContainer[];
    volumes?: PodVolume[];
  };
}

export interface PodContainer {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: {
    name: string;
    value?: string;
    valueFrom?: { secretKeyRef?: { name: string; key: string } };
  }[];
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  restartPolicy?: string;
  startupProbe?: {
    exec?: { command: string[] };
    periodSeconds?: number;
    failureThreshold?: number;
  };
  securityContext?: {
    runAsUser?: number;
    runAsGroup?: number;
    allowPrivilegeEscalation?: boolean;
    capabilities?: { drop?: string[] };
  };
}

export interface PodVolume {
  name: string;
  emptyDir?: { medium?: string; sizeLimit?: string };
  secret?: { secretName: string; defaultMode?: number };
  configMap?: { name: string; defaultMode?: number };
  persistentVolumeClaim?: { claimName: string; readOnly?: boolean };
}

/** An image's config as the OCI image spec has it (the fields a container's command uses). */
export interface ImageConfig {
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Env?: string[] | null;
}

/**
 * PURE: a container's argv as the kubelet makes it: `command` replaces the image's
 * entrypoint (and drops its Cmd), `args` replaces its Cmd.
 */
export function containerArgv(c: Pick<PodContainer, 'command' | 'args'>, image: ImageConfig) {
  const entrypoint = c.command ?? image.Entrypoint ?? [];
  const cmd = c.args ?? (c.command ? [] : (image.Cmd ?? []));
  return [...entrypoint, ...cmd];
}

/** PURE: the image's environment overlaid with the container's (the container's wins). */
export function containerEnv(image: string[], own: Record<string, string>): string[] {
  const merged = new Map(image.map((kv) => [kv.slice(0, kv.indexOf('=')), kv]));
  for (const [k, v] of Object.entries(own)) merged.set(k, `${k}=${v}`);
  return [...merged.values()];
}

/** An image the pod names, as an OCI layout with its tag. */
export interface LocalImage {
  layout: string;
  tag: string;
}

export interface RunPodOptions {
  /** image reference (as in the pod) → its OCI layout */
  images: Record<string, LocalImage>;
  /** a Secret's data (the API's base64 values decoded), by name in the pod's namespace */
  secret(name: string): Promise<Record<string, Buffer>>;
  /** a ConfigMap's data, by name in the pod's namespace (for pods that mount one) */
  configMap?(name: string): Promise<Record<string, string>>;
  /** where bundles, volumes and logs go */
  workDir: string;
  /** folder of a claim's volume: the same folder for the same claim, kept after the pod */
  claimDir(claimName: string): string;
  /** the containers to leave out (run by no one) */
  skip?: string[];
  /**
   * A folder of unpacked root filesystems, one per image digest, kept between runs: each
   * container then runs on an overlay (the cached image below, the pod's changes above)
   * instead of a fresh unpack (a streamer image takes half a minute to unpack). Entries of
   * images not in `images` are removed.
   */
  rootfsCache?: string;
}

export interface RunningPod {
  /** runc container ids, by container name */
  ids: Record<string, string>;
  /** host folders of the pod's volumes, by volume name */
  volumes: Record<string, string>;
  /** each container's stdout and stderr */
  logs: Record<string, string>;
  /** whether a container's process is still running */
  running(name: string): boolean;
  /** stops every container (SIGTERM, then SIGKILL after `graceMs`) and deletes them */
  stop(graceMs?: number): Promise<void>;
}

/** Reads the config of `layout:tag` (index → manifest → config blob). */
export function imageConfig(image: LocalImage): ImageConfig {
  const blob = (digest: string) =>
    JSON.parse(readFileSync(join(image.layout, 'blobs', ...digest.split(':')), 'utf8'));
  const index = JSON.parse(readFileSync(join(image.layout, 'index.json'), 'utf8')) as {
    manifests: { digest: string; annotations?: Record<string, string> }[];
  };
  const entry = index.manifests.find(
    (m) => m.annotations?.['org.opencontainers.image.ref.name'] === image.tag,
  );
  if (!entry) throw new Error(`${image.layout} has no tag ${image.tag}`);
  const manifest = blob(entry.digest) as { config: { digest: string } };
  return (blob(manifest.config.digest) as { config?: ImageConfig }).config ?? {};
}

/** Starts the pod's containers, in their order, once their volumes are made. */
export async function runPod(pod: PodObject, opts: RunPodOptions): Promise<RunningPod> {
  const podDir = join(opts.workDir, `pod-${pod.metadata.name}`);
  mkdirSync(podDir, { recursive: true });
  const fsGroup = pod.spec.securityContext?.fsGroup;

  // volumes, as the kubelet lays them out
  const volumes: Record<string, string> = {};
  for (const v of pod.spec.volumes ?? []) {
    if (v.emptyDir) {
      const dir = join(podDir, 'volumes', v.name);
      mkdirSync(dir, { recursive: true });
      chmodSync(dir, 0o1777);
      volumes[v.name] = dir;
    } else if (v.secret) {
      const dir = join(podDir, 'volumes', v.name);
      mkdirSync(dir, { recursive: true });
      const data = await opts.secret(v.secret.secretName);
      for (const [key, value] of Object.entries(data)) {
        const file = join(dir, key);
        writeFileSync(file, value);
        // the kubelet gives Secret files the fsGroup as their group
        if (fsGroup !== undefined) chownSync(file, 0, fsGroup);
        chmodSync(file, v.secret.defaultMode ?? 0o644);
      }
      volumes[v.name] = dir;
    } else if (v.configMap) {
      if (!opts.configMap) throw new Error(`volume ${v.name}: a ConfigMap, and no configMap()`);
      const dir = join(podDir, 'volumes', v.name);
      mkdirSync(dir, { recursive: true });
      const data = await opts.configMap(v.configMap.name);
      for (const [key, value] of Object.entries(data)) {
        const file = join(dir, key);
        writeFileSync(file, value);
        chmodSync(file, v.configMap.defaultMode ?? 0o644);
      }
      volumes[v.name] = dir;
    } else if (v.persistentVolumeClaim) {
      const dir = opts.claimDir(v.persistentVolumeClaim.claimName);
      if (!existsSync(dir)) {
        mkdirSync(dir, { recursive: true });
        if (fsGroup !== undefined) chownSync(dir, 0, fsGroup);
        chmodSync(dir, 0o2775);
      }
      volumes[v.name] = dir;
    } else {
      throw new Error(
        `volume ${v.name}: only emptyDir, secret, configMap and persistentVolumeClaim run here`,
      );
    }
  }

  // one root filesystem per image, shared read-write by the containers using it
  const rootfs = new Map<string, string>();
  const mounts: string[] = [];
  if (opts.rootfsCache) pruneRootfsCache(opts.rootfsCache, Object.values(opts.images));
  const ids: Record<string, string> = {};
  const logs: Record<string, string> = {};
  const children = new Map<string, ChildProcess>();
  const exited = new Map<string, Promise<void>>();
  // init containers first, in order: a sidecar once its startup probe passes, any other once
  // it has exited 0; then the containers, together
  const containers = [...(pod.spec.initContainers ?? []), ...pod.spec.containers].filter(
    (c) => !opts.skip?.includes(c.name),
  );
  const initNames = new Set((pod.spec.initContainers ?? []).map((c) => c.name));
  const startAll = async () => {
    for (const c of containers) {
      const image = opts.images[c.image];
      if (!image) throw new Error(`container ${c.name}: no local image for ${c.image}`);
      const bundle = join(podDir, 'bundles', c.name);
      let root = rootfs.get(c.image);
      if (!root) {
        root = opts.rootfsCache
          ? overlayRoot(image, opts.rootfsCache, join(podDir, 'rootfs', c.name), mounts)
          : join(bundle, 'rootfs');
        if (!opts.rootfsCache) unpackBundle(image.layout, image.tag, bundle);
        rootfs.set(c.image, root);
      }
      if (!existsSync(join(bundle, 'config.json'))) {
        // a bundle of its own (config.json) over the image's root filesystem
        mkdirSync(bundle, { recursive: true });
        writeFileSync(join(bundle, 'config.json'), baseConfig(image, opts.rootfsCache, root));
      }
      const config = imageConfig(image);
      const own: Record<string, string> = {};
      for (const e of c.env ?? []) {
        if (e.value !== undefined) own[e.name] = e.value;
        else if (e.valueFrom?.secretKeyRef) {
          const ref = e.valueFrom.secretKeyRef;
          const value = (await opts.secret(ref.name))[ref.key];
          if (value === undefined)
            throw new Error(`container ${c.name}: no key ${ref.key} in ${ref.name}`);
          own[e.name] = value.toString('utf8');
        }
      }
      const sc = { ...pod.spec.securityContext, ...c.securityContext };
      editBundle(bundle, (spec) => {
        const s = spec as typeof spec & {
          root: { path: string; readonly?: boolean };
          process: { capabilities?: Record<string, string[]>; noNewPrivileges?: boolean };
          linux?: { namespaces?: { type: string }[] };
        };
        s.root.path = root;
        s.process.args = containerArgv(c, config);
        s.process.env = containerEnv(config.Env ?? [], own);
        s.process.user = {
          uid: sc.runAsUser ?? s.process.user.uid,
          gid: sc.runAsGroup ?? s.process.user.gid,
          ...(fsGroup !== undefined && { additionalGids: [fsGroup] }),
        } as typeof s.process.user;
        if (c.securityContext?.capabilities?.drop?.includes('ALL')) {
          s.process.capabilities = {
            bounding: [],
            effective: [],
            inheritable: [],
            permitted: [],
            ambient: [],
          };
        }
        if (c.securityContext?.allowPrivilegeEscalation === false) s.process.noNewPrivileges = true;
        // a pod's containers share its network and IPC namespaces: here, the host's
        if (s.linux?.namespaces) {
          s.linux.namespaces = s.linux.namespaces.filter(
            (n) => n.type !== 'network' && n.type !== 'ipc',
          );
        }
        for (const m of c.volumeMounts ?? []) {
          const source = volumes[m.name];
          if (!source) throw new Error(`container ${c.name}: no volume ${m.name}`);
          spec.mounts.push({
            destination: m.mountPath,
            type: 'bind',
            source,
            options: ['rbind', m.readOnly ? 'ro' : 'rw'],
          });
        }
      });
      const id = `floe-pod-${process.pid}-${pod.metadata.name}-${c.name}`.slice(0, 120);
      const log = join(podDir, `${c.name}.log`);
      const fd = openSync(log, 'a');
      // spawns: runc
      const child = spawn('runc', ['run', '--bundle', bundle, id], { stdio: ['ignore', fd, fd] });
      closeSync(fd);
      ids[c.name] = id;
      logs[c.name] = log;
      children.set(c.name, child);
      exited.set(c.name, new Promise((resolve) => child.once('exit', () => resolve())));
      if (!initNames.has(c.name)) continue;
      if (c.restartPolicy === 'Always') {
        await startupProbe(c, id, child, log);
      } else {
        const code = await new Promise<number | null>((r) => child.once('exit', (n) => r(n)));
        if (code !== 0) throw new Error(`init container ${c.name} exited with ${code}; see ${log}`);
      }
    }
  };

  const stop = async (graceMs = 5000) => {
    for (const id of Object.values(ids)) {
      // spawns: runc
      spawnSync('runc', ['kill', id, 'TERM'], { stdio: 'ignore' });
    }
    const all = Promise.all(exited.values());
    await Promise.race([all, new Promise((r) => setTimeout(r, graceMs))]);
    for (const id of Object.values(ids)) {
      // spawns: runc
      spawnSync('runc', ['delete', '--force', id], { stdio: 'ignore' });
    }
    await all;
    // spawns: umount
    for (const m of mounts) spawnSync('umount', [m], { stdio: 'ignore' });
  };
  try {
    await startAll();
  } catch (err) {
    await stop(0);
    throw err;
  }

  return {
    ids,
    volumes,
    logs,
    running: (name) => {
      const child = children.get(name);
      return !!child && child.exitCode === null && child.signalCode === null;
    },
    stop,
  };
}

/** The manifest digest of `layout:tag`, the key of its unpacked root filesystem. */
function manifestDigest(image: LocalImage): string {
  const index = JSON.parse(readFileSync(join(image.layout, 'index.json'), 'utf8')) as {
    manifests: { digest: string; annotations?: Record<string, string> }[];
  };
  const entry = index.manifests.find(
    (m) => m.annotations?.['org.opencontainers.image.ref.name'] === image.tag,
  );
  if (!entry) throw new Error(`${image.layout} has no tag ${image.tag}`);
  return entry.digest.replace(':', '-');
}

/** The image unpacked once into the cache (rootfs and runc's config.json). */
function cachedBundle(image: LocalImage, cache: string): string {
  const dir = join(cache, manifestDigest(image));
  if (!existsSync(join(dir, 'config.json'))) {
    const partial = `${dir}.partial-${process.pid}`;
    rmSync(partial, { recursive: true, force: true });
    unpackBundle(image.layout, image.tag, partial);
    rmSync(dir, { recursive: true, force: true });
    renameSync(partial, dir);
  }
  return dir;
}

/** An overlay of the cached image (read-only below) and the pod's own changes (above). */
function overlayRoot(image: LocalImage, cache: string, dir: string, mounts: string[]): string {
  const lower = join(cachedBundle(image, cache), 'rootfs');
  const [upper, work, merged] = ['upper', 'work', 'merged'].map((d) => join(dir, d)) as [
    string,
    string,
    string,
  ];
  for (const d of [upper, work, merged]) mkdirSync(d, { recursive: true });
  // spawns: mount
  execFileSync('mount', [
    '-t',
    'overlay',
    'overlay',
    '-o',
    `lowerdir=${lower},upperdir=${upper},workdir=${work}`,
    merged,
  ]);
  mounts.push(merged);
  return merged;
}

/** runc's config.json for the image, from its unpacked bundle. */
function baseConfig(image: LocalImage, cache: string | undefined, root: string): Buffer {
  const bundle = cache ? cachedBundle(image, cache) : dirname(root);
  return readFileSync(join(bundle, 'config.json'));
}

function pruneRootfsCache(cache: string, keep: LocalImage[]) {
  mkdirSync(cache, { recursive: true });
  const wanted = new Set(keep.map(manifestDigest));
  for (const entry of readdirSync(cache)) {
    if (!wanted.has(entry)) rmSync(join(cache, entry), { recursive: true, force: true });
  }
}

/** Runs a sidecar's startup probe (exec in the container) until it passes, as the kubelet does. */
async function startupProbe(c: PodContainer, id: string, child: ChildProcess, log: string) {
  const probe = c.startupProbe;
  if (!probe?.exec) return;
  const period = (probe.periodSeconds ?? 10) * 1000;
  const tries = probe.failureThreshold ?? 3;
  for (let i = 0; i < tries; i++) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`sidecar ${c.name} exited before it started; see ${log}`);
    }
    // spawns: runc
    const r = spawnSync('runc', ['exec', id, ...probe.exec.command], { stdio: 'ignore' });
    if (r.status === 0) return;
    await new Promise((resolve) => setTimeout(resolve, period));
  }
  throw new Error(`sidecar ${c.name}: startup probe failed ${tries} times; see ${log}`);
}

/** The ids of the runc containers that exist now (`runc list`). */
export function runcContainers(): string[] {
  // spawns: runc
  const r = spawnSync('runc', ['list', '--quiet'], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean);
}
