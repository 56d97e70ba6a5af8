// The session pod's wiring, as tables over the pure builders: what each container shares with
// which, that no platform secret (the TURN fleet's above all) is in any container, the X
// authority file as xauth reads it, the app template's scheduling and mounts, and the tenant's
// network policies.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { soundServerArgs as localSoundServerArgs } from '../../streamer/src/sound-server.ts';
import type { AppScheduling, Session } from '../src/crd.ts';
import {
  defaultDesiredSettings,
  desiredAppEgressPolicy,
  desiredClaimQuota,
  desiredEgressPolicy,
  desiredGpuClaimTemplate,
  desiredNetworkPolicy,
  desiredPod,
  desiredXauthSecret,
  POD_PATHS,
  soundServerArgs,
  xauthorityFile,
} from '../src/desired.ts';
import { sessionObject, sessionSpec } from './fixtures.ts';

const settings = {
  ...defaultDesiredSettings,
  streamerImage: 'streamer:1',
  xserverImage: 'xorg:1',
  turnCidrs: ['10.20.0.0/24'],
};

// biome-ignore lint/suspicious/noExplicitAny: pod JSON, asserted on field by field
type Json = any;

interface Container {
  name: string;
  command?: string[];
  args?: string[];
  env: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string } } }[];
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface Volume {
  name: string;
  secret?: { secretName: string };
  emptyDir?: { medium?: string; sizeLimit?: string };
  configMap?: { name: string };
  persistentVolumeClaim?: { claimName: string; readOnly?: boolean };
}

function session(scheduling?: AppScheduling, mutate: (s: Session) => void = () => {}): Session {
  const s = sessionObject('s1', sessionSpec({ tenantId: 't1', userId: 'u1', slug: 'blender' }));
  s.metadata.uid = 'uid-1';
  if (scheduling) s.spec.app.scheduling = scheduling;
  mutate(s);
  return s;
}

function podOf(s: Session) {
  const pod = desiredPod(s, settings);
  // the sidecars (X server, PulseAudio, streamer) and the container (the app)
  const all = [...pod.spec.initContainers, ...pod.spec.containers] as Container[];
  return {
    pod,
    containers: all,
    volumes: pod.spec.volumes as Volume[],
    container: (name: string) => all.find((c) => c.name === name) as Container,
  };
}
const envOf = (c: Container) => Object.fromEntries(c.env.map((e) => [e.name, e.value]));

describe('what the containers of a session pod share', () => {
  const { containers, container } = podOf(session());
  const mounts = (name: string) =>
    Object.fromEntries(container(name).volumeMounts.map((m) => [m.name, m.mountPath]));

  it.each([
    // container, its mounts: the X socket and cookie to X server, app and streamer; the
    // PulseAudio socket to sound server, app and streamer; the home to the app and the
    // streamer (file transfer: uploads into it, downloads from it, as the app's user); the
    // gamepads' folder to the streamer (its hub, its interposer) and the app (read-only)
    [
      'app',
      {
        x11: '/tmp/.X11-unix',
        xauth: '/run/floe/xauth',
        sound: '/run/floe/sound',
        home: '/home/floe',
        gamepads: '/run/floe/gamepads',
      },
    ],
    [
      'streamer',
      {
        x11: '/tmp/.X11-unix',
        xauth: '/run/floe/xauth',
        sound: '/run/floe/sound',
        home: '/home/floe',
        gamepads: '/run/floe/gamepads',
      },
    ],
    ['sound', { sound: '/run/floe/sound' }],
    ['xserver', { x11: '/tmp/.X11-unix', xauth: '/run/floe/xauth' }],
  ])('%s mounts %j', (name, expected) => {
    expect(mounts(name)).toEqual(expected);
  });

  it('starts X server, PulseAudio and the streamer as sidecars, in order, ready before the app', () => {
    const { pod } = podOf(session());
    const sidecars = pod.spec.initContainers as Record<string, Json>[];
    expect(sidecars.map((c) => c.name)).toEqual(['xserver', 'sound', 'streamer']);
    expect((pod.spec.containers as Container[]).map((c) => c.name)).toEqual(['app']);
    const probes: Record<string, RegExp> = {
      xserver: /^test -S \/tmp\/.X11-unix\/X0$/,
      sound: /S_ISSOCK.*\/run\/floe\/sound\/native/,
      // the interposer copied and pad 0's socket served: the app finds its pads at its start
      streamer:
        /isfile\("\/run\/floe\/gamepads\/libfloe-gamepad\.so"\).*S_ISSOCK.*"\/run\/floe\/gamepads\/js0"/,
    };
    for (const c of sidecars) {
      expect(c.restartPolicy).toBe('Always');
      expect(c.startupProbe.exec.command.join(' ')).toMatch(probes[c.name] as RegExp);
    }
    expect(containers).toHaveLength(4);
  });

  it('keeps the streamer beside an app that brings its own X server, without gamepads', () => {
    const { pod, container } = podOf(
      session(undefined, (s) => {
        s.spec.app.hasXServer = true;
      }),
    );
    expect((pod.spec.initContainers as Container[]).map((c) => c.name)).toEqual(['sound']);
    expect((pod.spec.containers as Container[]).map((c) => c.name)).toEqual(['app', 'streamer']);
    expect((pod.spec.volumes as Volume[]).map((v) => v.name)).not.toContain('gamepads');
    expect(envOf(container('app'))).not.toHaveProperty('LD_PRELOAD');
    expect(envOf(container('streamer'))).not.toHaveProperty('FLOE_STREAMER_GAMEPAD_DIR');
  });

  it.each([
    ['app', { XAUTHORITY: POD_PATHS.xauthority, PULSE_SERVER: 'unix:/run/floe/sound/native' }],
    [
      'streamer',
      {
        XAUTHORITY: POD_PATHS.xauthority,
        PULSE_SERVER: 'unix:/run/floe/sound/native',
        FLOE_STREAMER_AUDIO: 'on',
      },
    ],
    ['sound', { HOME: '/tmp' }],
  ])('%s finds X and sound through %j', (name, expected) => {
    expect(envOf(container(name))).toMatchObject(expected);
  });

  it('starts Xorg with the cookie and PulseAudio as the local runner does', () => {
    expect(container('xserver').args).toEqual([
      '-auth',
      '/run/floe/xauth/Xauthority',
      '-nolisten',
      'local',
    ]);
    expect(container('sound').command).toEqual(['pulseaudio']);
    expect(container('sound').args).toEqual(soundServerArgs('/run/floe/sound/native'));
    expect(soundServerArgs('/x/native')).toEqual(localSoundServerArgs('/x/native'));
    // the cookie is mounted read-only wherever it goes
    for (const c of containers) {
      for (const m of c.volumeMounts.filter((m) => m.name === 'xauth'))
        expect(m.readOnly).toBe(true);
    }
  });
});

describe('no platform secret in a session pod', () => {
  const TURN_SECRET = 'turn-fleet-shared-secret-0123456789';
  // the operator holds no TURN secret at all; even with every setting it has filled in, and
  // every shape of session, no container gets one
  const sessions: [string, Session][] = [
    ['GPU app with a home', session()],
    [
      'CPU app with its own X server',
      session(undefined, (s) => {
        s.spec.app.resources.gpu = null;
        s.spec.app.hasXServer = true;
        s.spec.persistence = null;
      }),
    ],
    [
      'app with Secrets of its own',
      session({
        envFromSecrets: [{ name: 'LICENSE', secret: 'app-licence', key: 'key' }],
        volumes: [{ name: 'certs', mountPath: '/etc/certs', secret: 'app-certs' }],
      }),
    ],
    [
      'app whose env names TURN settings',
      session(undefined, (s) => {
        s.spec.app.env = { THEME: 'dark' };
      }),
    ],
  ];

  it.each(sessions)('%s: no TURN setting, no fleet secret, only its own Secrets', (_, s) => {
    const { pod, containers, volumes } = podOf(s);
    const json = JSON.stringify(pod);
    expect(json).not.toContain(TURN_SECRET);
    for (const c of containers) {
      const names = c.env.map((e) => e.name);
      expect(
        names.filter((n) => n.startsWith('FLOE_TURN_')),
        c.name,
      ).toEqual([]);
      // Secrets in env: only the app's own, named in its template, and only in the app
      const fromSecrets = c.env.flatMap((e) => e.valueFrom?.secretKeyRef?.name ?? []);
      const own = (s.spec.app.scheduling?.envFromSecrets ?? []).map((e) => e.secret);
      expect(fromSecrets, c.name).toEqual(c.name === 'app' ? own : []);
    }
    // Secret volumes: the session's own X cookie, and the app's template's own mounts
    const secretVolumes = volumes.flatMap((v) => v.secret?.secretName ?? []);
    const ownMounts = (s.spec.app.scheduling?.volumes ?? []).flatMap((v) => v.secret ?? []);
    expect(secretVolumes).toEqual(['floe-s1-xauth', ...ownMounts]);
    expect(pod.spec.automountServiceAccountToken).toBe(false);
  });
});

describe('the X authority cookie', () => {
  it('is a file xauth reads: MIT-MAGIC-COOKIE-1 for display :0 on any host', () => {
    const cookie = Uint8Array.from({ length: 16 }, (_, i) => i * 17);
    const dir = mkdtempSync(join(tmpdir(), 'floe-xauth-'));
    try {
      const file = join(dir, 'Xauthority');
      writeFileSync(file, xauthorityFile(0, cookie));
      // spawns: xauth
      const listed = execFileSync('xauth', ['-f', file, 'list'], { encoding: 'utf8' }).trim();
      expect(listed.split(/\s+/)).toEqual([
        '#ffff##:0', // FamilyWild, no address, display 0
        'MIT-MAGIC-COOKIE-1',
        Buffer.from(cookie).toString('hex'),
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('goes in a Secret the Session owns, mounted by the pod', () => {
    const s = session();
    const secret = desiredXauthSecret(s, new Uint8Array(16));
    expect(secret.metadata).toMatchObject({
      name: 'floe-s1-xauth',
      namespace: 'floe-t-t1',
      ownerReferences: [{ kind: 'Session', uid: 'uid-1', controller: true }],
    });
    expect(Buffer.from(secret.data.Xauthority, 'base64')).toEqual(
      xauthorityFile(0, new Uint8Array(16)),
    );
  });
});

describe('the app template, passed through to the pod', () => {
  const cases: [string, AppScheduling, (p: ReturnType<typeof podOf>) => void][] = [
    [
      'tolerations, after the GPU taint',
      { tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'cad', effect: 'NoExecute' }] },
      ({ pod }) =>
        expect(pod.spec.tolerations).toEqual([
          { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' },
          { key: 'dedicated', operator: 'Equal', value: 'cad', effect: 'NoExecute' },
        ]),
    ],
    [
      'node affinity, required and preferred',
      {
        nodeAffinity: {
          required: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a', 'b'] }] }],
          preferred: [
            { weight: 50, matchExpressions: [{ key: 'spot', operator: 'DoesNotExist' }] },
          ],
        },
      },
      ({ pod }) =>
        expect(pod.spec.affinity).toEqual({
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a', 'b'] }] },
              ],
            },
            preferredDuringSchedulingIgnoredDuringExecution: [
              {
                weight: 50,
                preference: { matchExpressions: [{ key: 'spot', operator: 'DoesNotExist' }] },
              },
            ],
          },
        }),
    ],
    [
      'image pull secrets',
      { imagePullSecrets: ['registry-cred'] },
      ({ pod }) => expect(pod.spec.imagePullSecrets).toEqual([{ name: 'registry-cred' }]),
    ],
    [
      '/dev/shm size, memory-backed, in the app only',
      { shmSize: '2Gi' },
      ({ volumes, container }) => {
        expect(volumes).toContainEqual({
          name: 'shm',
          emptyDir: { medium: 'Memory', sizeLimit: '2Gi' },
        });
        expect(container('app').volumeMounts).toContainEqual({
          name: 'shm',
          mountPath: '/dev/shm',
        });
        expect(container('streamer').volumeMounts.map((m) => m.name)).not.toContain('shm');
      },
    ],
    [
      'env from Secrets',
      { envFromSecrets: [{ name: 'LM_LICENSE', secret: 'licences', key: 'flexlm' }] },
      ({ container }) =>
        expect(container('app').env).toContainEqual({
          name: 'LM_LICENSE',
          valueFrom: { secretKeyRef: { name: 'licences', key: 'flexlm' } },
        }),
    ],
    [
      'read-only data volumes of each kind',
      {
        volumes: [
          { name: 'models', mountPath: '/data/models', claim: 'shared-models' },
          { name: 'cfg', mountPath: '/etc/app', configMap: 'app-config' },
          { name: 'certs', mountPath: '/etc/certs', secret: 'app-certs' },
        ],
      },
      ({ volumes, container }) => {
        expect(volumes).toEqual(
          expect.arrayContaining([
            {
              name: 'data-models',
              persistentVolumeClaim: { claimName: 'shared-models', readOnly: true },
            },
            { name: 'data-cfg', configMap: { name: 'app-config' } },
            { name: 'data-certs', secret: { secretName: 'app-certs' } },
          ]),
        );
        const mounts = container('app').volumeMounts.filter((m) => m.name.startsWith('data-'));
        expect(mounts).toEqual([
          { name: 'data-models', mountPath: '/data/models', readOnly: true },
          { name: 'data-cfg', mountPath: '/etc/app', readOnly: true },
          { name: 'data-certs', mountPath: '/etc/certs', readOnly: true },
        ]);
      },
    ],
  ];
  it.each(cases)('%s', (_, scheduling, check) => check(podOf(session(scheduling))));

  it('adds nothing when the template has nothing', () => {
    const { pod } = podOf(
      session(undefined, (s) => {
        s.spec.app.resources.gpu = null;
      }),
    );
    for (const field of ['tolerations', 'affinity', 'imagePullSecrets', 'nodeSelector']) {
      expect(pod.spec).not.toHaveProperty(field);
    }
    expect(desiredAppEgressPolicy(session())).toBeUndefined();
  });
});

describe('network policies of a tenant namespace', () => {
  const s = session({
    egress: [{ cidr: '10.9.0.0/16', ports: [{ protocol: 'TCP', port: 27000 }] }],
  });

  it('lets only the ingress gateway, the operator and Prometheus in, to the streamer port', () => {
    const policy = desiredNetworkPolicy(s, settings);
    const [rule] = policy.spec.ingress;
    expect(policy.spec.ingress).toHaveLength(1);
    expect(rule?.ports).toEqual([{ protocol: 'TCP', port: 8080 }]);
    expect(
      rule?.from.map((f) => f.namespaceSelector.matchLabels['kubernetes.io/metadata.name']),
    ).toEqual(['istio-system', 'floe-system', 'monitoring']);
    const noProm = desiredNetworkPolicy(s, { ...settings, prometheusNamespace: null });
    expect(noProm.spec.ingress[0]?.from).toHaveLength(2);
  });

  it.each([
    // destination, allowed by the tenant's policy (the internet rule, TURN, DNS)?
    ['169.254.169.254', false], // cloud metadata
    ['169.254.0.1', false],
    ['10.96.0.10', false], // another namespace's pod or service: private
    ['172.20.3.4', false],
    ['192.168.1.1', false],
    ['10.20.0.7', true], // the TURN fleet
    ['8.8.8.8', true], // the public internet
  ])('egress to %s: %s', (ip, allowed) => {
    const policy = desiredEgressPolicy(s, settings);
    const reach = policy.spec.egress.some((rule) =>
      (rule.to as { ipBlock?: { cidr: string; except?: string[] } }[]).some(
        (t) =>
          t.ipBlock &&
          inCidr(ip, t.ipBlock.cidr) &&
          !(t.ipBlock.except ?? []).some((e) => inCidr(ip, e)),
      ),
    );
    expect(reach).toBe(allowed);
  });

  it('adds the app template’s destinations for that session’s pod alone', () => {
    const policy = desiredAppEgressPolicy(s);
    expect(policy?.metadata).toMatchObject({
      name: 'floe-s1',
      ownerReferences: [{ uid: 'uid-1' }],
    });
    expect(policy?.spec).toEqual({
      podSelector: { matchLabels: { 'floe.dev/session': 's1' } },
      policyTypes: ['Egress'],
      egress: [
        { to: [{ ipBlock: { cidr: '10.9.0.0/16' } }], ports: [{ protocol: 'TCP', port: 27000 }] },
      ],
    });
  });
});

/** IPv4 only: whether `ip` is in `cidr` (IPv6 blocks never hold an IPv4 address here). */
function inCidr(ip: string, cidr: string): boolean {
  if (cidr.includes(':')) return false;
  const [base, bits] = cidr.split('/') as [string, string];
  const n = (a: string) => a.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
  const size = 2 ** (32 - Number(bits));
  return Math.floor(n(ip) / size) === Math.floor(n(base) / size);
}

describe('NVENC for the streamer: the GPU the app has', () => {
  const gpuSession = () => session();
  const withDra = { ...settings, gpuDeviceClass: 'gpu.nvidia.com' };

  it.each([
    // settings, app's GPU limit, claims of app and streamer, streamer's H.264 encoder
    ['device plugin (default)', settings, '1', [undefined, undefined], 'x264enc'],
    ['a DRA device class', withDra, undefined, [[{ name: 'gpu' }], [{ name: 'gpu' }]], 'auto'],
  ] as const)('%s', (_, how, limit, claims, encoder) => {
    const pod = desiredPod(gpuSession(), how);
    // the app a container, the streamer a sidecar
    const all = [...pod.spec.containers, ...pod.spec.initContainers] as (Container & {
      resources: { limits: Record<string, string>; claims?: unknown };
    })[];
    const [app, streamer] = ['app', 'streamer'].map((n) => all.find((c) => c.name === n));
    expect(app?.resources.limits['nvidia.com/gpu']).toBe(limit);
    expect([app?.resources.claims, streamer?.resources.claims]).toEqual(claims);
    expect(envOf(streamer as Container).FLOE_STREAMER_H264_ENCODER).toBe(encoder);
    // never every GPU of the node to the sidecar
    expect(JSON.stringify(pod)).not.toContain('NVIDIA_VISIBLE_DEVICES');
  });

  it('claims the session’s GPUs of the class once, shared by the pod’s two containers', () => {
    const s = gpuSession();
    const template = desiredGpuClaimTemplate(s, withDra);
    expect(template?.metadata).toMatchObject({
      name: 'floe-s1-gpu',
      ownerReferences: [{ uid: 'uid-1' }],
    });
    expect(template?.spec.spec.devices.requests).toEqual([
      {
        name: 'gpu',
        exactly: { deviceClassName: 'gpu.nvidia.com', allocationMode: 'ExactCount', count: 1 },
      },
    ]);
    expect(desiredPod(s, withDra).spec.resourceClaims).toEqual([
      { name: 'gpu', resourceClaimTemplateName: 'floe-s1-gpu' },
    ]);
    // the tenant's GPU quota counts devices of the class
    expect(desiredClaimQuota(s, withDra)?.spec.hard).toEqual({
      'gpu.nvidia.com.deviceclass.resource.k8s.io/devices': '8',
    });
    // no GPU, no claim
    const cpu = session(undefined, (x) => {
      x.spec.app.resources.gpu = null;
    });
    expect(desiredGpuClaimTemplate(cpu, withDra)).toBeUndefined();
    expect(desiredPod(cpu, withDra).spec).not.toHaveProperty('resourceClaims');
  });
});
