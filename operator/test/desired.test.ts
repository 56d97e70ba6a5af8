// The pure desired objects of a Session.
import { describe, expect, it } from 'vitest';
import { homeClaimName, LABELS, type Session } from '../src/crd.ts';
import {
  defaultDesiredSettings,
  desiredEgressPolicy,
  desiredHomeClaim,
  desiredNamespace,
  desiredNetworkPolicy,
  desiredPod,
  desiredResourceQuota,
  desiredService,
  desiredViewerKeys,
  desiredVirtualService,
  POD_PATHS,
  STREAMER_STARTUP_PROBE,
  sessionEndpoint,
} from '../src/desired.ts';
import { sessionObject, sessionSpec } from './fixtures.ts';

const settings = { ...defaultDesiredSettings, streamerImage: 'streamer:1', xserverImage: 'xorg:1' };

function session(mutate: (s: Session) => void = () => {}): Session {
  const s = sessionObject('s1', sessionSpec({ tenantId: 't1', userId: 'u1', slug: 'blender' }));
  s.metadata.uid = 'uid-1';
  mutate(s);
  return s;
}

describe('desired objects', () => {
  it('labels everything and lets the Session own all but the home claim', () => {
    const s = session();
    for (const o of [
      desiredPod(s, settings),
      desiredService(s),
      desiredVirtualService(s, settings),
      desiredViewerKeys(s, [{ kty: 'EC' }]),
    ]) {
      expect(o.metadata.labels).toEqual({
        [LABELS.managedBy]: 'floe-operator',
        [LABELS.session]: 's1',
        [LABELS.tenant]: 't1',
        [LABELS.user]: 'u1',
        [LABELS.app]: 'blender',
      });
      expect(o.metadata.ownerReferences).toEqual([
        {
          apiVersion: 'floe.dev/v1alpha1',
          kind: 'Session',
          name: 's1',
          uid: 'uid-1',
          controller: true,
          blockOwnerDeletion: true,
        },
      ]);
    }
    const claim = desiredHomeClaim(s);
    expect(claim?.metadata).not.toHaveProperty('ownerReferences');
    expect(claim?.metadata.labels).not.toHaveProperty(LABELS.session);
  });

  it('builds the pod: app, streamer, X server, GPU, node selector, restricted security', () => {
    const s = session((x) => {
      x.spec.streamer = { codecs: ['VP8'], maxKbps: 3000 };
    });
    const pod = desiredPod(s, settings);
    const [app] = pod.spec.containers as Record<string, unknown>[];
    const [xserver, sound, streamer] = pod.spec.initContainers as Record<string, unknown>[];
    expect(pod.metadata.name).toBe('floe-s1');
    expect(pod.spec).toMatchObject({
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      nodeSelector: { 'floe.dev/gpu-sku': 'a100' },
      securityContext: {
        runAsNonRoot: true,
        runAsUser: 1000,
        fsGroup: 1000,
        seccompProfile: { type: 'RuntimeDefault' },
      },
    });
    expect(app).toMatchObject({
      image: 'registry.invalid/floe/blender:4',
      command: ['blender'],
      resources: {
        requests: { cpu: '2', memory: '4Gi' },
        limits: { cpu: '2', memory: '4Gi', 'nvidia.com/gpu': '1' },
      },
    });
    expect(app?.env).toEqual(
      expect.arrayContaining([
        { name: 'FOO', value: 'bar' },
        { name: 'DISPLAY', value: ':0' },
        { name: 'FLOE_SESSION_ID', value: 's1' },
      ]),
    );
    expect(streamer).toMatchObject({ image: 'streamer:1', ports: [{ containerPort: 8080 }] });
    expect(streamer?.env).toEqual(
      expect.arrayContaining([
        { name: 'FLOE_STREAMER_PORT', value: '8080' },
        { name: 'FLOE_STREAMER_HOST', value: '0.0.0.0' },
        { name: 'FLOE_STREAMER_CODECS', value: 'VP8' },
        { name: 'FLOE_STREAMER_MAX_KBPS', value: '3000' },
        { name: 'FLOE_STREAMER_START_KBPS', value: '3000' },
      ]),
    );
    expect(xserver).toMatchObject({ name: 'xserver', image: 'xorg:1' });
    expect(sound).toMatchObject({ name: 'sound', image: 'streamer:1', command: ['pulseaudio'] });
    for (const c of [app, streamer, sound, xserver]) {
      expect(c?.securityContext).toEqual({
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
        runAsNonRoot: true,
        runAsUser: 1000,
        runAsGroup: 1000,
      });
    }
    expect(app?.volumeMounts).toContainEqual({ name: 'home', mountPath: '/home/floe' });
    expect(pod.spec.volumes).toEqual([
      { name: 'x11', emptyDir: {} },
      { name: 'xauth', secret: { secretName: 'floe-s1-xauth', defaultMode: 0o440 } },
      { name: 'sound', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
      { name: 'gamepads', emptyDir: { medium: 'Memory', sizeLimit: '4Mi' } },
      { name: 'home', persistentVolumeClaim: { claimName: homeClaimName('u1', 'blender') } },
    ]);
    // GPU nodes are tainted: a GPU session tolerates the taint
    expect(pod.spec.tolerations).toEqual([
      { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' },
    ]);
  });

  it('carries no platform secret: each container gets only the session’s own settings', () => {
    const s = session((x) => {
      x.spec.app.env = { THEME: 'dark' };
    });
    const pod = desiredPod(s, { ...settings, viewerIssuer: 'https://gw.example' });
    const containers = [...pod.spec.initContainers, ...pod.spec.containers] as {
      name: string;
      env: { name: string; value?: string; valueFrom?: unknown }[];
      envFrom?: unknown;
    }[];
    const allowed: Record<string, string[]> = {
      app: [
        'THEME',
        'DISPLAY',
        'XAUTHORITY',
        'PULSE_SERVER',
        'HOME',
        'FLOE_SESSION_ID',
        'LD_PRELOAD',
        'FLOE_GAMEPAD_DIR',
      ],
      sound: ['HOME'],
      streamer: [
        'DISPLAY',
        'XAUTHORITY',
        'PULSE_SERVER',
        'FLOE_STREAMER_AUDIO',
        'FLOE_SESSION_ID',
        'FLOE_STREAMER_HOST',
        'FLOE_STREAMER_PORT',
        'FLOE_STREAMER_CODECS',
        'FLOE_STREAMER_MAX_KBPS',
        'FLOE_STREAMER_START_KBPS',
        'FLOE_STREAMER_MIN_KBPS',
        'FLOE_STREAMER_H264_ENCODER',
        'FLOE_VIEWER_ISSUER',
        'FLOE_VIEWER_JWKS_FILE',
        'FLOE_STREAMER_CLIPBOARD',
        'FLOE_STREAMER_FILES',
        'FLOE_STREAMER_HOME',
        'FLOE_STREAMER_MAX_FILE_BYTES',
        'FLOE_STREAMER_MAX_HOME_BYTES',
        'FLOE_IDLE_TIMEOUT_SECONDS',
        'FLOE_SHUTDOWN_WARNING_SECONDS',
        'FLOE_STREAMER_GAMEPAD_DIR',
      ],
      xserver: ['DISPLAY', 'FLOE_DISPLAY_SIZE'],
    };
    for (const c of containers) {
      expect(c.env.map((e) => e.name).filter((n) => !allowed[c.name]?.includes(n))).toEqual([]);
      expect(c.env.filter((e) => e.valueFrom !== undefined)).toEqual([]);
      expect(c).not.toHaveProperty('envFrom');
    }
    // no TURN secret, token, key or database address anywhere in the pod
    expect(JSON.stringify(pod)).not.toMatch(/SECRET|TOKEN|PASSWORD|DATABASE_URL|secretKeyRef/);
    expect(pod.spec.automountServiceAccountToken).toBe(false);
  });

  it('hands the streamer the clipboard and file switches and limits, and the home to move files in', () => {
    type Container = {
      name: string;
      env: { name: string; value?: string }[];
      volumeMounts: { name: string; mountPath: string }[];
    };
    const streamerOf = (s: Session) => {
      const pod = desiredPod(s, settings) as unknown as {
        spec: { initContainers: Container[] };
      };
      const c = pod.spec.initContainers.find((x) => x.name === 'streamer')!;
      return {
        env: Object.fromEntries(c.env.map((e) => [e.name, e.value])),
        mounts: c.volumeMounts,
      };
    };
    const open = streamerOf(session());
    expect(open.env).toMatchObject({
      FLOE_STREAMER_CLIPBOARD: 'on',
      FLOE_STREAMER_FILES: 'on',
      FLOE_STREAMER_HOME: '/home/floe',
    });
    expect(open.env).not.toHaveProperty('FLOE_STREAMER_MAX_FILE_BYTES');
    expect(open.mounts).toContainEqual({ name: 'home', mountPath: '/home/floe' });
    const locked = streamerOf(
      session((s) => {
        s.spec.streamer = {
          clipboard: false,
          files: false,
          maxFileBytes: 1024,
          maxHomeBytes: 4096,
        };
      }),
    );
    expect(locked.env).toMatchObject({
      FLOE_STREAMER_CLIPBOARD: 'off',
      FLOE_STREAMER_FILES: 'off',
      FLOE_STREAMER_MAX_FILE_BYTES: '1024',
      FLOE_STREAMER_MAX_HOME_BYTES: '4096',
    });
  });

  it('gives the app the gamepads: the streamer, a sidecar after X and sound, serves them first', () => {
    const s = session((x) => {
      x.spec.app.env = { LD_PRELOAD: '/opt/app/libhook.so' };
    });
    const pod = desiredPod(s, settings);
    type C = {
      name: string;
      env: { name: string; value?: string }[];
      volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
      restartPolicy?: string;
      startupProbe?: unknown;
      readinessProbe?: unknown;
      ports?: unknown;
    };
    const sidecars = pod.spec.initContainers as C[];
    const [app, ...others] = pod.spec.containers as C[];
    // the kubelet starts these in order, each after the one before passed its startup probe,
    // and the app after all of them: the hub is up when the app looks for its pads
    expect(sidecars.map((c) => c.name)).toEqual(['xserver', 'sound', 'streamer']);
    expect(others).toEqual([]);
    const streamer = sidecars[2] as C;
    expect(streamer).toMatchObject({
      restartPolicy: 'Always',
      startupProbe: {
        exec: { command: STREAMER_STARTUP_PROBE },
        periodSeconds: 1,
        failureThreshold: 60,
      },
      // still the Service's endpoint: its port, and ready when its /healthz answers
      ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
      readinessProbe: { httpGet: { path: '/healthz', port: 8080 } },
    });
    expect(STREAMER_STARTUP_PROBE.join(' ')).toContain(
      'os.path.isfile("/run/floe/gamepads/libfloe-gamepad.so")',
    );
    expect(STREAMER_STARTUP_PROBE.join(' ')).toContain('os.stat("/run/floe/gamepads/js0")');
    expect(pod.spec.volumes).toContainEqual({
      name: 'gamepads',
      emptyDir: { medium: 'Memory', sizeLimit: '4Mi' },
    });
    // read-write for the streamer (its sockets, its copy of the interposer), read-only for
    // the app; nobody else mounts it
    expect(streamer.volumeMounts).toContainEqual({
      name: 'gamepads',
      mountPath: '/run/floe/gamepads',
    });
    expect(app?.volumeMounts).toContainEqual({
      name: 'gamepads',
      mountPath: '/run/floe/gamepads',
      readOnly: true,
    });
    for (const c of sidecars.slice(0, 2)) {
      expect(c.volumeMounts.map((m) => m.name)).not.toContain('gamepads');
    }
    const envOf = (c: C) => Object.fromEntries(c.env.map((e) => [e.name, e.value]));
    expect(envOf(streamer).FLOE_STREAMER_GAMEPAD_DIR).toBe('/run/floe/gamepads');
    // the interposer first, then what the app preloads of its own
    expect(envOf(app as C)).toMatchObject({
      LD_PRELOAD: '/run/floe/gamepads/libfloe-gamepad.so /opt/app/libhook.so',
      FLOE_GAMEPAD_DIR: '/run/floe/gamepads',
    });
    expect(envOf(desiredPod(session(), settings).spec.containers[0] as C).LD_PRELOAD).toBe(
      '/run/floe/gamepads/libfloe-gamepad.so',
    );
  });

  it('leaves out GPU, X server and claim when the session needs none', () => {
    const s = session((x) => {
      x.spec.app.resources.gpu = null;
      x.spec.app.hasXServer = true;
      x.spec.persistence = null;
      x.spec.streamer = { image: 'own-streamer:2' };
    });
    const pod = desiredPod(s, settings);
    expect(pod.spec).not.toHaveProperty('nodeSelector');
    expect(
      (pod.spec.containers as { name: string; image: string }[]).map((c) => [c.name, c.image]),
    ).toEqual([
      ['app', 'registry.invalid/floe/blender:4'],
      ['streamer', 'own-streamer:2'],
    ]);
    expect(
      (pod.spec.initContainers as { name: string; image: string }[]).map((c) => [c.name, c.image]),
    ).toEqual([['sound', 'own-streamer:2']]);
    expect(JSON.stringify(pod)).not.toContain('nvidia.com/gpu');
    expect(pod.spec).not.toHaveProperty('tolerations');
    expect(pod.spec.volumes).toContainEqual({ name: 'home', emptyDir: {} });
    expect(desiredHomeClaim(s)).toBeUndefined();
  });

  it('builds the home claim with size and storage class', () => {
    const s = session((x) => {
      x.spec.persistence = { size: '20Gi', storageClassName: 'fast' };
    });
    expect(desiredHomeClaim(s)?.spec).toEqual({
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: '20Gi' } },
      storageClassName: 'fast',
    });
  });

  it('lets session pods reach DNS, the allowed ranges and the public internet, nothing private', () => {
    const s = session();
    const policy = desiredEgressPolicy(s, { ...settings, egressAllowCidrs: ['10.0.5.0/24'] });
    expect(policy.metadata.name).toBe('floe-restrict-egress');
    expect(policy.spec.policyTypes).toEqual(['Egress']);
    const [dns, allowed, internet] = policy.spec.egress;
    expect(dns).toHaveProperty('ports', [
      { protocol: 'UDP', port: 53 },
      { protocol: 'TCP', port: 53 },
    ]);
    expect(allowed?.to).toEqual([{ ipBlock: { cidr: '10.0.5.0/24' } }]);
    const [v4, v6] = (internet?.to ?? []) as { ipBlock: { cidr: string; except: string[] } }[];
    expect(v4?.ipBlock.cidr).toBe('0.0.0.0/0');
    // the cloud metadata endpoint, the cluster's and the company's private networks
    for (const range of ['169.254.0.0/16', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16']) {
      expect(v4?.ipBlock.except).toContain(range);
    }
    expect(v6?.ipBlock).toMatchObject({ cidr: '::/0' });
    expect(v6?.ipBlock.except).toEqual(expect.arrayContaining(['fc00::/7', 'fe80::/10']));
    expect(v6?.ipBlock.except.every((c) => c.includes(':'))).toBe(true);

    const closed = desiredEgressPolicy(s, { ...settings, egressInternet: false });
    expect(closed.spec.egress).toEqual([dns]); // DNS only
  });

  it('builds the tenant policy, quota and namespace labels', () => {
    const s = session();
    expect(desiredNamespace(s).metadata).toEqual({
      name: 'floe-t-t1',
      labels: { 'floe.dev/tenant': 't1', 'floe.dev/tenant-namespace': 'true' },
    });
    const policy = desiredNetworkPolicy(s, {
      ...settings,
      ingressNamespace: 'gw',
      ingressPodLabels: { app: 'gw' },
    });
    const from = (ns: string, labels: Record<string, string>) => ({
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
      podSelector: { matchLabels: labels },
    });
    expect(policy.spec.ingress).toEqual([
      {
        from: [
          from('gw', { app: 'gw' }),
          from('floe-system', { 'app.kubernetes.io/name': 'floe-operator' }),
          from('monitoring', { 'app.kubernetes.io/name': 'prometheus' }),
        ],
        ports: [{ protocol: 'TCP', port: 8080 }],
      },
    ]);
    expect(policy.spec.policyTypes).toEqual(['Ingress']);
    expect(desiredResourceQuota(s)?.spec.hard).toEqual({ 'requests.nvidia.com/gpu': '8' });
    expect(
      desiredResourceQuota(
        session((x) => {
          x.spec.tenant.maxGpus = null;
        }),
      ),
    ).toBeUndefined();
    expect(
      desiredResourceQuota(
        session((x) => {
          x.spec.tenant.maxGpus = 0;
        }),
      )?.spec.hard,
    ).toEqual({ 'requests.nvidia.com/gpu': '0' });
  });

  it('tells the streamer the idle timeout and the warning lead, so that it warns its viewers', () => {
    const envOf = (s: Session, lead: number) =>
      (
        desiredPod(s, { ...settings, shutdownWarning: lead }).spec.initContainers.find(
          (c) => (c as { name: string }).name === 'streamer',
        ) as { env: { name: string; value: string }[] }
      ).env.filter((e) => e.name.startsWith('FLOE_IDLE') || e.name.startsWith('FLOE_SHUTDOWN'));
    const idle = session((s) => {
      s.spec.timeouts = { ...s.spec.timeouts, idleSeconds: 900 };
    });
    expect(envOf(idle, 45)).toEqual([
      { name: 'FLOE_IDLE_TIMEOUT_SECONDS', value: '900' },
      { name: 'FLOE_SHUTDOWN_WARNING_SECONDS', value: '45' },
    ]);
    // no idle timeout: no idle warning (the lead still serves the lifetime warning)
    expect(
      envOf(
        session((s) => (s.spec.timeouts = {})),
        60,
      ),
    ).toEqual([{ name: 'FLOE_SHUTDOWN_WARNING_SECONDS', value: '60' }]);
  });

  it('has the streamer check viewer tokens against the gateway’s keys in a ConfigMap, no network path', () => {
    const s = session();
    const withKeys = { ...settings, viewerIssuer: 'https://gw.example' };
    const pod = desiredPod(s, withKeys);
    const byName = (name: string) =>
      [...pod.spec.initContainers, ...pod.spec.containers].find(
        (c) => (c as { name: string }).name === name,
      ) as { env: { name: string; value: string }[]; volumeMounts: { name: string }[] };
    const streamer = byName('streamer');
    expect(streamer.env).toEqual(
      expect.arrayContaining([
        { name: 'FLOE_VIEWER_ISSUER', value: 'https://gw.example' },
        { name: 'FLOE_VIEWER_JWKS_FILE', value: POD_PATHS.viewerKeys },
      ]),
    );
    expect(streamer.volumeMounts).toContainEqual({
      name: 'viewer-keys',
      mountPath: '/run/floe/viewer',
      readOnly: true,
    });
    // the streamer's alone: the app sees neither the keys nor the issuer
    for (const name of ['app', 'xserver', 'sound']) {
      expect(byName(name).volumeMounts.map((m) => m.name)).not.toContain('viewer-keys');
    }
    expect(pod.spec.volumes).toContainEqual({
      name: 'viewer-keys',
      configMap: { name: 'floe-s1-viewer-keys' },
    });
    const keys = [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y', kid: 'k1' }];
    const configMap = desiredViewerKeys(s, keys);
    expect(configMap).toMatchObject({
      kind: 'ConfigMap',
      metadata: { name: 'floe-s1-viewer-keys', namespace: s.metadata.namespace },
    });
    expect(JSON.parse(configMap.data['jwks.json'])).toEqual({ keys });
    // without an issuer (tests): neither
    const bare = desiredPod(s, settings);
    expect(JSON.stringify(bare)).not.toMatch(/viewer-keys|FLOE_VIEWER/);
  });

  it('routes /sessions/<name>/ on the gateway to the Service, and reports the endpoint', () => {
    const s = session();
    const vs = desiredVirtualService(s, {
      ...settings,
      istioGateway: 'gw/main',
      istioHosts: ['eu.floe.dev'],
      clusterDomain: 'k.local',
    });
    expect(vs.spec).toEqual({
      hosts: ['eu.floe.dev'],
      gateways: ['gw/main'],
      http: [
        {
          name: 'streamer',
          // the signalling only: the stream page and the rest stay with the gateway
          match: [{ uri: { exact: '/sessions/s1/signal' } }],
          rewrite: { uri: '/signal' },
          headers: { request: { remove: ['cookie', 'x-csrf-token'] } },
          route: [
            { destination: { host: 'floe-s1.floe-t-t1.svc.k.local', port: { number: 8080 } } },
          ],
        },
      ],
    });
    expect(vs.spec.http[0]).not.toHaveProperty('timeout');
    expect(desiredService(s).spec).toMatchObject({
      type: 'ClusterIP',
      ports: [{ port: 8080, targetPort: 8080 }],
    });
    expect(sessionEndpoint(s, settings)).toBe('http://floe-s1.floe-t-t1.svc.cluster.local:8080/');
  });
});
