// The session pod, run for real. A user signs in at the gateway (Chromium, the identity
// provider's form) and launches the xterm app on a testbed Kubernetes cluster: the control
// plane writes the Session, the operator writes its Pod. KWOK only pretends to run pods, so
// this test plays the kubelet: it takes the operator's own Pod object from the API server (and
// the session's X cookie Secret) and runs its containers — X server, xterm, streamer,
// PulseAudio — with runc from the images `npm run images` builds, with the pod's volumes and
// environment. Chromium then streams the xterm through the gateway with TURN relay only (the
// gateway's per-session credentials, handed to the streamer with the offer), drives the app's
// gamepad (a stand-in pad in the page, read by jstest through the pod's interposer and hub),
// types into it (a file appears on the home volume), hears it (pacat into the pod's PulseAudio), and the
// session stops: the pod leaves the API server, its containers are gone, the home is kept.
//
// Stand-ins, as this machine has no cluster network: the pod's containers share the host's
// network namespace (a hostNetwork pod: the streamer listens on 0.0.0.0:8080 as the pod says),
// and the gateway resolves the Service name of status.endpoint from the API server to this
// host, where a cluster's DNS and kube-proxy would give the Service's address.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { lookup as systemLookup } from 'node:dns';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { request } from 'node:http';
import { createServer, type LookupFunction } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Operator, startOperator } from '@floe/operator';
import { podName, sessionCrd, tenantNamespace } from '@floe/operator/crd';
import {
  type KubernetesCluster,
  type KubernetesClusters,
  type LocalImage,
  launchChromium,
  type PodObject,
  type RunningPod,
  runcContainers,
  runPod,
  startKubernetesClusters,
} from '@floe/testbed';
import { buildApp, buildWeb } from '@floe/web/build';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildImages } from '../../deploy/images/build.ts';
import { type Page, pageFetch, signInByForms } from '../../gateway/test/helpers/pages.ts';
import { type Stack, startStack } from '../../gateway/test/helpers/stack.ts';
import {
  defaultDesiredSettings,
  desiredGpuClaimTemplate,
  desiredPod,
} from '../../operator/src/desired.ts';
import { floeImage } from '../../operator/src/images.ts';
import { buildInterposer } from '../../streamer/src/gamepad/build.ts';
import { type PadWindow, STAND_IN_GAMEPAD } from '../../streamer/test/stand-in-gamepad.ts';

// biome-ignore lint/suspicious/noExplicitAny: API and kubectl JSON, asserted on field by field
type Json = any;
type Browser = Awaited<ReturnType<typeof launchChromium>>;

const STREAMER_PORT = 8080;

const workDir = join(tmpdir(), 'floe-real-pod');

let k8s: KubernetesClusters;
let cluster: KubernetesCluster;
let operator: Operator;
let stack: Stack;
let browser: Browser;
let work: string;
let images: Record<string, LocalImage> = {};
let pod: RunningPod | undefined;

const kubectl = (args: string[]) => k8s.kubectl(cluster, args);
const json = async (args: string[]): Promise<Json> =>
  JSON.parse(await kubectl([...args, '-o', 'json']));
async function maybe(args: string[]): Promise<Json | null> {
  try {
    return await json(args);
  } catch (err) {
    if (/NotFound|not found/.test((err as Error).message)) return null;
    throw err;
  }
}

async function eventually<T>(what: string, fn: () => Promise<T | undefined | false>, ms: number) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The streamer of a hostNetwork pod binds the host's port 8080: it must be free. */
async function assertPortFree(port: number) {
  await new Promise<void>((resolve, reject) => {
    const server = createServer();
    server.once('error', () =>
      reject(new Error(`port ${port} is taken: the session pod's streamer listens there`)),
    );
    server.listen(port, '0.0.0.0', () => server.close(() => resolve()));
  });
}

/**
 * The cluster's DNS and kube-proxy, played from its API server: `<service>.<namespace>.svc.
 * cluster.local` is this host (where the pod's containers run in the host's network) when
 * the Service exists; any other name, the system's resolver.
 */
const clusterLookup: LookupFunction = (hostname, options, callback) => {
  const m = /^([a-z0-9-]+)\.([a-z0-9-]+)\.svc\.cluster\.local$/.exec(hostname);
  if (!m) return systemLookup(hostname, options, callback as never);
  const answer = (err: NodeJS.ErrnoException | null) => {
    if (options.all)
      (callback as never as (e: unknown, a: unknown) => void)(
        err,
        err ? [] : [{ address: '127.0.0.1', family: 4 }],
      );
    else callback(err, '127.0.0.1', 4);
  };
  maybe(['get', 'service', m[1] as string, '-n', m[2] as string]).then(
    (svc) =>
      answer(svc ? null : Object.assign(new Error(`ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' })),
    (err: Error) => answer(err),
  );
};

beforeAll(async () => {
  await assertPortFree(STREAMER_PORT);
  work = mkdtempSync(join(inject('testbed').tempRoot, 'floe-real-pod-'));
  // the operator's default images: built once per machine, then from the cache
  const built = await buildImages({ only: ['streamer', 'xserver', 'xterm'], log: () => {} });
  images = Object.fromEntries(built.map((i) => [i.ref, { layout: i.layout, tag: i.tag }]));
  // the launcher and the stream page, both served by the gateway (never by the pod)
  const webOut = mkdtempSync(join(work, 'web-'));
  const [k, web] = await Promise.all([
    startKubernetesClusters({
      workDir,
      clusters: [{ name: 'realpod', region: 'pod-region', gpuNodes: [], cpuNodes: 1 }],
      istio: true,
      storage: { pvs: 2, size: '1Gi' },
      onProgress: () => {},
    }),
    buildApp({ outDir: webOut }),
    buildWeb({ outDir: webOut }),
  ]);
  k8s = k;
  cluster = k8s.clusters[0] as KubernetesCluster;
  await k8s.kubectl(cluster, ['apply', '-f', '-'], JSON.stringify(sessionCrd));
  await kubectl(['wait', '--for=condition=Established', 'crd/sessions.floe.dev']);
  stack = await startStack({ turn: true, webApp: join(web.dir, '..'), lookup: clusterLookup });
  operator = await startOperator({
    kubeconfig: cluster.kubeconfig,
    // its log, in the work folder, for when a step fails
    logger: pino({ level: 'info' }, pino.destination(join(workDir, 'operator.log'))),
    config: {
      leaderElect: false,
      metricsAddr: '127.0.0.1:0',
      id: 'realpod-operator',
      // the pod's streamer takes only the gateway's viewer tokens, checked against its keys
      // in the session's ConfigMap
      viewerIssuer: stack.url,
      viewerJwksUrl: `${stack.url}/.well-known/jwks.json`,
    },
  });
  browser = await launchChromium();
}, 600_000);

afterAll(async () => {
  await pod?.stop(1000);
  await browser?.close();
  await stack?.close();
  await operator?.close();
  k8s?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
}, 120_000);

/** What the page's peer connection received and through which candidates. */
function mediaStats(page: Page) {
  return page.evaluate(async () => {
    const { pc } = (window as unknown as { __floe: { pc: RTCPeerConnection | null } }).__floe;
    if (!pc) return null;
    const stats = [...((await pc.getStats()) as unknown as Map<string, Json>).values()];
    const byId = new Map(stats.map((s) => [s.id, s]));
    const pair = stats.find(
      (s) => s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded',
    );
    const audio = stats.find((s) => s.type === 'inbound-rtp' && s.kind === 'audio');
    const video = stats.find((s) => s.type === 'inbound-rtp' && s.kind === 'video');
    return {
      local: pair ? byId.get(pair.localCandidateId)?.candidateType : null,
      audioPackets: audio?.packetsReceived ?? 0,
      audioEnergy: audio?.totalAudioEnergy ?? 0,
      framesDecoded: video?.framesDecoded ?? 0,
    };
  });
}

describe('a session pod run with runc from the operator’s own Pod object', () => {
  let id: string;
  let ns: string;
  let page: Page;
  let podObject: PodObject & Json;
  const claimRoot = () => join(work, 'claims');

  it('launches on the Kubernetes cluster: the operator’s pod is Running there (KWOK)', async () => {
    const kubeconfig = readFileSync(cluster.kubeconfig, 'utf8');
    const registered = await stack.admin('POST', '/v1/clusters', {
      name: cluster.name,
      region: cluster.region,
      driver: 'kubernetes',
      kubeconfig,
    });
    expect(registered.status, JSON.stringify(registered.body)).toBe(201);
    const patched = await stack.admin('PATCH', '/v1/tenants/acme', {
      allowedRegions: [cluster.region],
    });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    const app = await stack.admin('POST', '/v1/tenants/acme/apps', {
      slug: 'xterm',
      name: 'Terminal',
      image: floeImage('xterm'),
      resources: { cpu: '500m', memory: '512Mi' },
      persistence: { size: '1Gi' },
      // the app's template, through the control plane, the Session and the operator
      scheduling: {
        shmSize: '256Mi',
        tolerations: [{ key: 'floe.dev/demo', operator: 'Exists', effect: 'NoSchedule' }],
      },
    });
    expect(app.status, JSON.stringify(app.body)).toBe(201);

    const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
    // the stream page's gamepad: headless Chromium has no pad hardware
    await context.addInitScript(STAND_IN_GAMEPAD);
    page = await context.newPage();
    await signInByForms(page, stack.url, 'bob');
    const launched = await pageFetch(page, 'POST', '/api/v1/tenants/acme/sessions', {
      app: 'xterm',
    });
    expect(launched.status, JSON.stringify(launched.body)).toBe(201);
    id = launched.body.id;
    ns = tenantNamespace(stack.tenants.acme.id);
    try {
      await eventually(
        'the session running',
        async () =>
          (await pageFetch(page, 'GET', `/api/v1/tenants/acme/sessions/${id}`)).body.state ===
          'running',
        60_000,
      );
    } catch (err) {
      const api = (await pageFetch(page, 'GET', `/api/v1/tenants/acme/sessions/${id}`)).body;
      const resource = await maybe(['get', 'session', id, '-n', ns]);
      const p = await maybe(['get', 'pod', podName(id), '-n', ns]);
      throw new Error(
        `${(err as Error).message}: ${JSON.stringify({ api, status: resource?.status, pod: p?.status })}`,
      );
    }
    const sessions = await json(['get', 'sessions', '-A']);
    const mine = sessions.items.find((s: Json) => s.metadata.name === id);
    expect(mine.status).toMatchObject({
      phase: 'Running',
      node: expect.stringMatching(/^realpod/),
    });
    podObject = await json(['get', 'pod', podName(id), '-n', ns]);
    expect(podObject.status.phase).toBe('Running');
    // the streamer a sidecar too, after X and sound: its gamepads' hub is up before the app
    expect(podObject.spec.initContainers.map((c: Json) => c.name)).toEqual([
      'xserver',
      'sound',
      'streamer',
    ]);
    expect(podObject.spec.containers.map((c: Json) => c.name)).toEqual(['app']);
    expect(mine.spec.app.scheduling.shmSize).toBe('256Mi');
    expect(podObject.spec.volumes).toContainEqual({
      name: 'shm',
      emptyDir: { medium: 'Memory', sizeLimit: '256Mi' },
    });
    expect(podObject.spec.tolerations).toContainEqual({
      key: 'floe.dev/demo',
      operator: 'Exists',
      effect: 'NoSchedule',
    });
    // no platform secret: no TURN setting in any container of the pod the API server holds
    const all = [...podObject.spec.initContainers, ...podObject.spec.containers];
    for (const c of all) {
      expect(
        c.env.filter((e: Json) => e.name.startsWith('FLOE_TURN_')),
        c.name,
      ).toEqual([]);
    }
    expect(JSON.stringify(podObject)).not.toContain(inject('testbed').turn.secret);
    // the streamer checks viewer tokens against the gateway's public keys, from a ConfigMap
    const streamer = podObject.spec.initContainers.find((c: Json) => c.name === 'streamer');
    expect(streamer.env).toContainEqual({ name: 'FLOE_VIEWER_ISSUER', value: stack.url });
    const keys = await json(['get', 'configmap', `${podName(id)}-viewer-keys`, '-n', ns]);
    const published = await (await fetch(`${stack.url}/.well-known/jwks.json`)).json();
    expect(JSON.parse(keys.data['jwks.json'])).toEqual(published);

    // the NVENC path (a DRA claim shared by app and streamer) as the API server takes it
    const gpu = structuredClone(mine);
    gpu.spec.app.resources.gpu = { count: 1, sku: 'l4' };
    const dra = { ...defaultDesiredSettings, gpuDeviceClass: 'gpu.nvidia.com' };
    const objects: Json[] = [desiredGpuClaimTemplate(gpu, dra), desiredPod(gpu, dra)].map((o) => ({
      ...o,
      metadata: { ...o?.metadata, name: `dry-${o?.metadata.name}` },
    }));
    objects[1].spec.resourceClaims[0].resourceClaimTemplateName = objects[0].metadata.name;
    for (const o of objects) {
      await k8s.kubectl(cluster, ['create', '--dry-run=server', '-f', '-'], JSON.stringify(o));
    }
    // the CRD refuses a template the control plane would refuse too: a volume of two sources
    const twoSources = {
      apiVersion: mine.apiVersion,
      kind: mine.kind,
      metadata: { name: 'dry-two-sources', namespace: ns },
      spec: {
        ...mine.spec,
        app: {
          ...mine.spec.app,
          scheduling: { volumes: [{ name: 'v', mountPath: '/v', secret: 's', claim: 'c' }] },
        },
      },
    };
    await expect(
      k8s.kubectl(cluster, ['create', '--dry-run=server', '-f', '-'], JSON.stringify(twoSources)),
    ).rejects.toThrow(/one and only one|oneOf/);
  }, 120_000);

  it('runs the pod’s containers from the built images with runc, its volumes and environment', async () => {
    mkdirSync(claimRoot(), { recursive: true });
    const logOf = (name: string) => {
      const file = join(work, `pod-${podName(id)}`, `${name}.log`);
      return existsSync(file) ? readFileSync(file, 'utf8') : '(no log)';
    };
    const dump = () => ['xserver', 'sound', 'streamer', 'app'].map((n) => `--- ${n}\n${logOf(n)}`);
    pod = await runPod(podObject, {
      images,
      workDir: work,
      // unpacked once per image digest, then an overlay per run
      rootfsCache: join(homedir(), '.cache', 'floe', 'rootfs'),
      claimDir: (claim) => join(claimRoot(), claim),
      configMap: async (name) => (await json(['get', 'configmap', name, '-n', ns])).data,
      secret: async (name) => {
        const s = await json(['get', 'secret', name, '-n', ns]);
        return Object.fromEntries(
          Object.entries(s.data as Record<string, string>).map(([k, v]) => [
            k,
            Buffer.from(v, 'base64'),
          ]),
        );
      },
    }).catch((err: Error) => {
      throw new Error(`${err.message}\n${dump().join('\n')}`);
    });
    try {
      await eventually(
        'the streamer’s /healthz',
        () =>
          fetch(`http://127.0.0.1:${STREAMER_PORT}/healthz`)
            .then((r) => r.ok)
            .catch(() => false),
        60_000,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${dump().join('\n')}`);
    }
    for (const name of ['app', 'streamer', 'sound', 'xserver']) {
      expect(pod.running(name), `${name}:\n${logOf(name)}`).toBe(true);
    }
    // the X socket, the PulseAudio socket and the gamepads in the pod's shared volumes
    expect(existsSync(join(pod.volumes.x11 as string, 'X0'))).toBe(true);
    expect(existsSync(join(pod.volumes.sound as string, 'native'))).toBe(true);
    expect(readdirSync(pod.volumes.gamepads as string).sort()).toEqual([
      ...['event0', 'event1', 'event2', 'event3', 'js0', 'js1', 'js2', 'js3'],
      'libfloe-gamepad.so',
    ]);
  }, 180_000);

  it('streams the xterm to Chromium through the gateway, TURN relay only', async () => {
    await page.goto(`${stack.url}/sessions/${id}?relay=1`);
    await page.waitForFunction(() => document.body.dataset.state === 'streaming', undefined, {
      timeout: 30_000,
    });
    await expect
      .poll(() => page.evaluate(() => document.querySelector('video')!.videoWidth), {
        timeout: 20_000,
      })
      .toBeGreaterThan(0);
    const stats = await mediaStats(page);
    expect(stats?.local).toBe('relay');

    expect(stats?.framesDecoded).toBeGreaterThan(0);

    // the pod's streamer takes only the gateway's viewer token (keys from its ConfigMap):
    // straight to its port, as another pod or the app could, the signalling is refused
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`http://127.0.0.1:${STREAMER_PORT}/signal`, {
        headers: {
          connection: 'Upgrade',
          upgrade: 'websocket',
          'sec-websocket-version': '13',
          'sec-websocket-key': randomBytes(16).toString('base64'),
        },
      });
      req.on('response', (res) => resolve(res.statusCode ?? 0));
      req.on('upgrade', (_res, socket) => {
        socket.destroy();
        resolve(101);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(401);
  }, 60_000);

  it('gives the app the gamepads: the browser’s pad read through the pod’s interposer and hub', async () => {
    const pads = pod!.volumes.gamepads as string;
    // the interposer the streamer copied from its image: the one built here (same Debian)
    const lib = join(pads, 'libfloe-gamepad.so');
    expect(readFileSync(lib)).toEqual(readFileSync(await buildInterposer()));
    // the app: the library preloaded, the hub's folder, mounted read-only; no platform secret
    const app = podObject.spec.containers[0];
    expect(app.env).toEqual(
      expect.arrayContaining([
        { name: 'LD_PRELOAD', value: '/run/floe/gamepads/libfloe-gamepad.so' },
        { name: 'FLOE_GAMEPAD_DIR', value: '/run/floe/gamepads' },
      ]),
    );
    expect(app.volumeMounts).toContainEqual({
      name: 'gamepads',
      mountPath: '/run/floe/gamepads',
      readOnly: true,
    });
    expect(podObject.spec.volumes).toContainEqual({
      name: 'gamepads',
      emptyDir: { medium: 'Memory', sizeLimit: '4Mi' },
    });
    // inside the running app container (its image's shell, no coreutils): its environment,
    // the folder mounted read-only, and pad 0 opened where /dev/input has no device at all:
    // the shell's open() went through the interposer to the hub's socket
    // spawns: runc
    const inside = spawnSync(
      'runc',
      [
        'exec',
        pod!.ids.app as string,
        'sh',
        '-c',
        [
          'echo "env $LD_PRELOAD $FLOE_GAMEPAD_DIR"',
          'while read -r l; do case "$l" in *" /run/floe/gamepads "*) echo "mount $l";; esac; done </proc/self/mountinfo',
          '(: >/run/floe/gamepads/x) 2>/dev/null && echo writable || echo read-only',
          'exec 3</dev/input/js0 && echo opened js0',
        ].join('\n'),
      ],
      { encoding: 'utf8', timeout: 10_000 },
    );
    const lines = inside.stdout.split('\n');
    expect(lines[0]).toBe('env /run/floe/gamepads/libfloe-gamepad.so /run/floe/gamepads');
    // mountinfo: "<id> <parent> <dev> <root> <mount point> <options> ..."
    expect(lines[1], inside.stdout).toMatch(/^mount \S+ \S+ \S+ \S+ \/run\/floe\/gamepads ro[, ]/);
    expect(lines.slice(2, 4), inside.stderr).toEqual(['read-only', 'opened js0']);

    // a reader of the joystick API, as the app would be, through the pod's own interposer and
    // hub: the library the streamer copied, the folder of its sockets (the emptyDir's host path)
    // The emptyDir's host path is deep in the test's folders, longer than a socket's address
    // may be (108 bytes): a short link to it, as the pod's own /run/floe/gamepads is short
    const short = mkdtempSync(join(tmpdir(), 'pads-'));
    symlinkSync(pads, join(short, 'pads'));
    const out: string[] = [];
    let stderr = '';
    const jstest = spawn('jstest', ['--event', '/dev/input/js0'], {
      env: { ...process.env, LD_PRELOAD: lib, FLOE_GAMEPAD_DIR: join(short, 'pads') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    jstest.stderr.on('data', (d: Buffer) => {
      stderr += d;
    });
    let buffered = '';
    jstest.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const whole = buffered.split('\n');
      buffered = whole.pop() ?? '';
      out.push(...whole);
    });
    /** jstest's "Event: type T, time …, number N, value V" lines, as [type, number, value]. */
    const events = () =>
      out.flatMap((line) => {
        const m = /^Event: type (\d+), time \d+, number (\d+), value (-?\d+)$/.exec(line);
        return m ? [[Number(m[1]), Number(m[2]), Number(m[3])].join()] : [];
      });
    const seen = (event: [number, number, number], what: string) =>
      eventually(
        `jstest reading ${what} ${event.join()}`,
        async () => events().includes(event.join()),
        15_000,
      ).catch((err: Error) => {
        throw new Error(`${err.message}\n${out.join('\n')}\n${stderr}`);
      });
    try {
      // opened: joydev's burst of the resting state (a trigger at rest is -32767)
      await seen([0x82, 5, -32767], 'the initial state');
      expect(out.join('\n')).toMatch(
        /Joystick \(Floe virtual gamepad \(Xbox 360 layout\)\) has 8 axes/,
      );
      await page.evaluate(() => {
        (window as unknown as PadWindow).__standInPad.buttons[0] = { pressed: true, value: 1 };
      });
      await seen([1, 0, 1], 'A pressed');
      await page.evaluate(() => {
        const pad = (window as unknown as PadWindow).__standInPad;
        pad.axes[0] = -1;
        pad.buttons[7] = { pressed: true, value: 1 };
        pad.buttons[0] = { pressed: false, value: 0 };
      });
      await seen([2, 0, -32767], 'the left stick pushed left');
      await seen([2, 5, 32767], 'the right trigger pulled');
      await seen([1, 0, 0], 'A released');
      // only what the page sent, after the burst: exactly these changes; the second frame's
      // three in one message, its buttons before its axes
      const live = events().filter((e) => !e.startsWith(`${0x81},`) && !e.startsWith(`${0x82},`));
      expect(live).toEqual(['1,0,1', '1,0,0', '2,0,-32767', '2,5,32767']);
    } finally {
      jstest.kill();
      rmSync(short, { recursive: true, force: true });
    }
    // back at rest for the rest of the session
    await page.evaluate(() => {
      const pad = (window as unknown as PadWindow).__standInPad;
      pad.axes[0] = 0;
      pad.buttons[7] = { pressed: false, value: 0 };
    });
  }, 60_000);

  it('types into the xterm: a file appears on the home volume', async () => {
    const video = page.locator('video');
    await video.click({ position: { x: 40, y: 40 } });
    const token = randomBytes(4).toString('hex');
    await page.keyboard.type(`echo floe-${token} > ~/typed\n`, { delay: 20 });
    const claim = podObject.spec.volumes.find((v: Json) => v.persistentVolumeClaim)
      .persistentVolumeClaim.claimName as string;
    const typed = join(claimRoot(), claim, 'typed');
    await eventually(
      'the typed file',
      async () => existsSync(typed) && readFileSync(typed, 'utf8') === `floe-${token}\n`,
      20_000,
    );
  }, 60_000);

  it('hears it: what the app plays into the pod’s PulseAudio arrives as Opus', async () => {
    // noise, until the pod stops (the image has the shell and pacat, no coreutils)
    await page.keyboard.type('pacat </dev/urandom &\n', { delay: 20 });
    await page.getByRole('button', { name: /unmute/i }).click();
    try {
      await expect
        .poll(async () => (await mediaStats(page))?.audioPackets ?? 0, { timeout: 20_000 })
        .toBeGreaterThan(100);
      await expect
        .poll(async () => (await mediaStats(page))?.audioEnergy ?? 0, { timeout: 10_000 })
        .toBeGreaterThan(0);
    } catch (err) {
      const logs = ['sound', 'streamer', 'app'].map(
        (n) => `--- ${n}\n${readFileSync(pod!.logs[n] as string, 'utf8').slice(-3000)}`,
      );
      throw new Error(`${(err as Error).message}\n${logs.join('\n')}`);
    }
  }, 60_000);

  it('stops cleanly: pod gone from the API server, containers gone, home volume kept', async () => {
    const stopped = await pageFetch(page, 'DELETE', `/api/v1/tenants/acme/sessions/${id}`);
    expect(stopped.status, JSON.stringify(stopped.body)).toBeLessThan(300);
    await eventually(
      'the pod deleted',
      async () => (await maybe(['get', 'pod', podName(id), '-n', ns])) === null,
      30_000,
    );
    // the kubelet's part: the pod is gone, so are its containers
    const ids = Object.values(pod!.ids);
    await pod!.stop();
    pod = undefined;
    expect(runcContainers().filter((c) => ids.includes(c))).toEqual([]);
    await eventually(
      'the session stopped',
      async () =>
        (await pageFetch(page, 'GET', `/api/v1/tenants/acme/sessions/${id}`)).body.state ===
        'stopped',
      30_000,
    );
    const claimName = podObject.spec.volumes.find((v: Json) => v.persistentVolumeClaim)
      .persistentVolumeClaim.claimName as string;
    const claim = await json(['get', 'pvc', claimName, '-n', ns]);
    expect(claim.metadata.deletionTimestamp).toBeUndefined();
    expect(existsSync(join(claimRoot(), claimName, 'typed'))).toBe(true);
  }, 90_000);
});
