// The committed manifests are what the code renders; the configuration parses and refuses.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { helpText, loadConfig } from '../src/config.ts';
import { sessionCrd } from '../src/crd.ts';
import { FLOE_IMAGE_TAG } from '../src/images.ts';
import { renderManifests } from '../src/manifests.ts';

const dir = fileURLToPath(new URL('../manifests/', import.meta.url));

describe('manifests', () => {
  it.each(Object.keys(renderManifests()))(
    'operator/manifests/%s equals what operator/src renders (regenerate: node operator/src/main.ts manifests --write)',
    (name) => {
      expect(readFileSync(`${dir}${name}`, 'utf8')).toBe(renderManifests()[name]);
    },
  );

  it('parses back to the CRD of crd.ts, and the deployment runs 2 replicas', () => {
    const [crd] = parseAllDocuments(renderManifests()['crd.yaml'] as string).map((d) => d.toJS());
    expect(crd).toEqual(JSON.parse(JSON.stringify(sessionCrd)));
    const [deployment] = parseAllDocuments(renderManifests()['deployment.yaml'] as string).map(
      (d) => d.toJS(),
    );
    expect(deployment.spec.replicas).toBe(2);
  });

  it('prints CRD and RBAC with `manifests` and help with --help', () => {
    const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
    const out = execFileSync(process.execPath, [main, 'manifests'], { encoding: 'utf8' });
    const kinds = parseAllDocuments(out).map((d) => d.toJS().kind);
    expect(kinds).toEqual([
      'CustomResourceDefinition',
      'Namespace',
      'ServiceAccount',
      'ClusterRole',
      'ClusterRoleBinding',
      'Role',
      'RoleBinding',
    ]);
    expect(execFileSync(process.execPath, [main, '--help'], { encoding: 'utf8' })).toBe(helpText());
  });
});

describe('config', () => {
  it('takes flags over environment over defaults', () => {
    const c = loadConfig(['--workers', '4', '--istio-hosts', 'a.floe.dev, b.floe.dev'], {
      FLOE_OPERATOR_WORKERS: '8',
      FLOE_OPERATOR_RESYNC: '60',
      KUBECONFIG: '/k',
    });
    expect(c).toMatchObject({
      workers: 4,
      resync: 60,
      kubeconfig: '/k',
      istioHosts: ['a.floe.dev', 'b.floe.dev'],
      leaderElect: true,
      metricsAddr: '127.0.0.1:9090',
    });
    expect(loadConfig(['--leader-elect=false'], {}).leaderElect).toBe(false);
    expect(
      loadConfig([], { FLOE_OPERATOR_INGRESS_POD_LABELS: 'app=gw,tier=edge' }).ingressPodLabels,
    ).toEqual({ app: 'gw', tier: 'edge' });
    expect(loadConfig([], {})).toMatchObject({ egressInternet: true, egressAllowCidrs: [] });
    expect(
      loadConfig(
        ['--egress-internet=false', '--egress-allow-cidrs', '10.0.5.0/24, fd00:5::/64'],
        {},
      ),
    ).toMatchObject({ egressInternet: false, egressAllowCidrs: ['10.0.5.0/24', 'fd00:5::/64'] });
  });

  it('defaults to the images `npm run images` builds, under --image-registry when given', () => {
    expect(loadConfig([], {})).toMatchObject({
      streamerImage: `floe/streamer:${FLOE_IMAGE_TAG}`,
      xserverImage: `floe/xserver:${FLOE_IMAGE_TAG}`,
    });
    expect(
      loadConfig(['--image-registry', 'registry.example:5000/'], {
        FLOE_OPERATOR_XSERVER_IMAGE: 'acme/xorg:7',
      }),
    ).toMatchObject({
      streamerImage: `registry.example:5000/floe/streamer:${FLOE_IMAGE_TAG}`,
      xserverImage: 'acme/xorg:7',
    });
    expect(() => loadConfig(['--image-registry', 'has space'], {})).toThrow(/imageRegistry: /);
  });

  it('refuses bad values with a message naming them', () => {
    expect(() => loadConfig(['--workers', 'many'], {})).toThrow(/workers: /);
    expect(() => loadConfig(['--istio-gateway', 'nogateway'], {})).toThrow(
      /istioGateway: namespace\/name/,
    );
    expect(() => loadConfig(['--lease-duration', '5', '--renew-deadline', '10'], {})).toThrow(
      /renew-deadline must be shorter/,
    );
    expect(() => loadConfig(['--bogus'], {})).toThrow(/bogus/);
    expect(() => loadConfig(['--egress-allow-cidrs', '10.0.5.0'], {})).toThrow(
      /egressAllowCidrs.*CIDR block/s,
    );
  });
});
