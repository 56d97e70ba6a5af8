// The images of `npm run images`, for real: built (or reused from the cache), pushed to Debian's
// docker-registry on loopback with skopeo, pulled back and inspected; the control plane's
// entrypoint run with runc from an unpacked bundle; one image built again from nothing to the
// same digest.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  editBundle,
  freePort,
  type Registry,
  runBundle,
  startBundle,
  startRegistry,
  unpackBundle,
} from '@floe/testbed';
import type {} from '@floe/testbed/vitest-setup';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { defaultDesiredSettings } from '../../operator/src/desired.ts';
import { FLOE_IMAGE_TAG, FLOE_IMAGES, floeImage } from '../../operator/src/images.ts';
import { buildInterposer } from '../../streamer/src/gamepad/build.ts';
import { XORG_CONFIG } from '../../streamer/src/x11/display-server.ts';
import { mintTurnCredentials } from '../../turn/src/credentials.ts';
import { probeTurnServer } from '../../turn/src/probe.ts';
import { type BuiltImage, buildImages, pushImage } from '../images/build.ts';

let images: BuiltImage[] = [];
let registry: Registry;
let work: string;
const byName = (name: string) => images.find((i) => i.name === name) as BuiltImage;

// spawns: skopeo

/** A display number nobody uses (no socket, no lock file). */
function freeDisplay(): number {
  for (let n = 70 + (process.pid % 50); ; n++) {
    if (!existsSync(`/tmp/.X11-unix/X${n}`) && !existsSync(`/tmp/.X${n}-lock`)) return n;
  }
}

async function waitFor(ok: () => boolean, ms: number, what: string) {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`no ${what} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
const skopeo = (args: string[]) => execFileSync('skopeo', args, { encoding: 'utf8' });

/** Pulls `ref` from the registry into an OCI layout and unpacks it as a runc bundle. */
function pullAndUnpack(name: string): string {
  const layout = join(work, `pulled-${name}`);
  skopeo([
    'copy',
    '--quiet',
    '--src-tls-verify=false',
    `docker://${registry.host}/${floeImage(name as never)}`,
    `oci:${layout}:${FLOE_IMAGE_TAG}`,
  ]);
  const bundle = join(work, `bundle-${name}`);
  unpackBundle(layout, FLOE_IMAGE_TAG, bundle);
  return bundle;
}

beforeAll(async () => {
  work = mkdtempSync(join(inject('testbed').tempRoot, 'floe-images-'));
  // cold: a few minutes, once per machine (the cache is ~/.cache/floe/images); warm: seconds
  images = await buildImages();
  registry = await startRegistry();
  // as `npm run images -- --push <registry> --tls-verify=false` does
  for (const image of images) pushImage(image, registry.host, false);
}, 20 * 60_000);

afterAll(async () => {
  await registry?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
}, 60_000);

describe('npm run images', () => {
  it('builds every image the operator and the chart name, tagged as operator/src/images.ts says', () => {
    expect(images.map((i) => i.ref).sort()).toEqual(FLOE_IMAGES.map((n) => floeImage(n)).sort());
    expect(defaultDesiredSettings.streamerImage).toBe(byName('streamer').ref);
    expect(defaultDesiredSettings.xserverImage).toBe(byName('xserver').ref);
    expect(byName('control').ref).toBe(`floe/control:${FLOE_IMAGE_TAG}`);
  });

  it('pushes them to a registry that serves the same manifest digest, labels and non-root user', () => {
    for (const image of images) {
      const ref = `docker://${registry.host}/${image.ref}`;
      const raw = skopeo(['inspect', '--raw', '--tls-verify=false', ref]);
      expect(`sha256:${createHash('sha256').update(raw).digest('hex')}`, image.name).toBe(
        image.digest,
      );
      const config = JSON.parse(skopeo(['inspect', '--config', '--tls-verify=false', ref]));
      expect(config.config.User, image.name).toBe('1000:1000');
      expect(config.config.Labels, image.name).toMatchObject({
        'org.opencontainers.image.title': expect.stringMatching(/^Floe /),
        'org.opencontainers.image.version': FLOE_IMAGE_TAG,
        'org.opencontainers.image.ref.name': image.ref,
        'org.opencontainers.image.created': new Date(0).toISOString(),
      });
    }
  });

  it("runs the control plane's entrypoint from the pulled image with runc, as uid 1000", () => {
    const bundle = pullAndUnpack('control');
    const spec = editBundle(bundle, (spec) => {
      expect(spec.process.user).toMatchObject({ uid: 1000, gid: 1000 });
      expect(spec.process.args).toEqual([
        '/usr/local/bin/node',
        '--max-semi-space-size=2',
        '--heap-growing-percent=30',
        '/app/control/src/main.ts',
      ]);
      spec.process.args.push('--help');
    });
    expect(spec.process.cwd).toBe('/app');
    const run = runBundle(bundle);
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('Usage: npm run start:control');
    expect(run.status).toBe(0);
    // no shell where none is needed: the Node images have no /bin/sh
    expect(existsSync(join(bundle, 'rootfs/bin/sh'))).toBe(false);
    expect(existsSync(join(bundle, 'rootfs/usr/bin/sh'))).toBe(false);
  }, 120_000);

  it("loads GStreamer and its encoders in the streamer image, as the streamer's probe does, and the gamepad interposer", async () => {
    const bundle = pullAndUnpack('streamer');
    editBundle(bundle, (spec) => {
      spec.process.args = [
        '/usr/bin/python3',
        '/app/streamer/pipeline/floe_pipeline.py',
        '--probe',
        '--port=1',
      ];
    });
    const run = runBundle(bundle);
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      event: 'encoders',
      x264enc: true,
      vp8enc: true,
      vp9enc: true,
      av1enc: true,
    });
    // the gamepad interposer the streamer copies to a pod's app: the one built on this machine
    // (same Debian release), and it loads with the image's own glibc
    const lib = '/usr/local/lib/floe/libfloe-gamepad.so';
    expect(readFileSync(join(bundle, 'rootfs', lib))).toEqual(
      readFileSync(await buildInterposer()),
    );
    editBundle(bundle, (spec) => {
      spec.process.args = [
        '/usr/bin/python3',
        '-c',
        `import ctypes, os; ctypes.CDLL(${JSON.stringify(lib)}); print(os.environ["FLOE_STREAMER_GAMEPAD_LIBRARY"])`,
      ];
    });
    const loaded = runBundle(bundle);
    expect(loaded.status, loaded.stderr).toBe(0);
    expect(loaded.stdout.trim()).toBe(lib);
  }, 120_000);

  it('serves a display from the X server image that the xterm image draws a window on', async () => {
    const xserver = pullAndUnpack('xserver');
    const xterm = pullAndUnpack('xterm');
    expect(readFileSync(join(xserver, 'rootfs/etc/X11/floe/xorg.conf'), 'utf8')).toBe(XORG_CONFIG);
    // both share the X socket folder, as the session pod's containers share the x11 volume
    const display = freeDisplay();
    const x11 = {
      destination: '/tmp/.X11-unix',
      type: 'bind',
      source: '/tmp/.X11-unix',
      options: ['rbind', 'rw'],
    };
    editBundle(xserver, (spec) => {
      spec.process.args[1] = `:${display}`;
      spec.mounts.push(x11);
    });
    editBundle(xterm, (spec) => {
      expect(spec.process.args).toEqual(['/usr/bin/xterm']);
      spec.process.env.push(`DISPLAY=:${display}`);
      spec.mounts.push(x11);
    });
    const server = startBundle(xserver);
    try {
      await waitFor(() => existsSync(`/tmp/.X11-unix/X${display}`), 20_000, 'X socket');
      const app = startBundle(xterm);
      try {
        const env = { ...process.env, DISPLAY: `:${display}` };
        // spawns: xdotool
        const found = spawnSync('xdotool', ['search', '--sync', '--class', 'XTerm'], {
          env,
          encoding: 'utf8',
          timeout: 20_000,
        });
        expect(found.stdout.trim()).toMatch(/^\d+/);
        // spawns: xdotool
        const size = execFileSync('xdotool', ['getdisplaygeometry'], { env, encoding: 'utf8' });
        expect(size.trim()).toMatch(/^\d+ \d+$/);
      } finally {
        await app.stop();
      }
    } finally {
      await server.stop();
    }
  }, 120_000);

  it("relays from the TURN image as uid 1000, with the config turn/'s CLI renders in it (the chart's init container)", async () => {
    const bundle = pullAndUnpack('turn');
    // the pod's volumes: the shared secret (read-only), a memory folder for the rendered
    // config, coturn's database folder; owned by the image's user as fsGroup makes them
    const dirs = Object.fromEntries(
      ['secret', 'run', 'db'].map((d) => {
        const dir = join(work, `turn-${d}`);
        mkdirSync(dir);
        chownSync(dir, 1000, 1000);
        return [d, dir];
      }),
    );
    const secret = 'dHVybi1zZWNyZXQtb2YtdGhlLWltYWdlLXRlc3Q';
    writeFileSync(join(dirs.secret!, 'turn-secret'), secret, { mode: 0o400 });
    chownSync(join(dirs.secret!, 'turn-secret'), 1000, 1000);
    const mount = (source: string, destination: string, mode: 'ro' | 'rw') => ({
      destination,
      type: 'bind',
      source,
      options: ['rbind', mode],
    });
    const port = await freePort();
    editBundle(bundle, (spec) => {
      expect(spec.process.user).toMatchObject({ uid: 1000, gid: 1000 });
      expect(spec.process.args).toEqual(['/usr/local/bin/node', '/app/turn/src/cli.ts']);
      // the init container's arguments, as deploy/chart/templates/turn.yaml gives them
      spec.process.args.push(
        'config',
        '--secret-file=/etc/floe-turn/secret/turn-secret',
        '--realm=floe.test',
        '--listening-ip=127.0.0.1',
        `--port=${port}`,
        '--min-port=49152',
        '--max-port=49200',
        '--no-prometheus',
        '--pid-file=/run/floe-turn/turnserver.pid',
        '--out=/run/floe-turn/turnserver.conf',
      );
      spec.mounts.push(
        mount(dirs.secret!, '/etc/floe-turn/secret', 'ro'),
        mount(dirs.run!, '/run/floe-turn', 'rw'),
      );
    });
    const rendered = runBundle(bundle);
    expect(rendered.status, rendered.stderr).toBe(0);
    expect(readFileSync(join(dirs.run!, 'turnserver.conf'), 'utf8')).toContain(
      `static-auth-secret=${secret}\n`,
    );
    editBundle(bundle, (spec) => {
      // the main container: coturn on the rendered config, on the host's loopback
      spec.process.args = ['/usr/bin/turnserver', '-c', '/run/floe-turn/turnserver.conf'];
      spec.mounts.push(mount(dirs.db!, '/var/lib/turn', 'rw'));
      const linux = (spec as unknown as { linux: { namespaces: { type: string }[] } }).linux;
      linux.namespaces = linux.namespaces.filter((ns) => ns.type !== 'network');
    });
    const turn = startBundle(bundle);
    try {
      const creds = mintTurnCredentials({ secret, sessionId: 'image-test', ttlSeconds: 120 });
      // the gateway's health probe: a real allocation, over UDP and over TCP
      for (const transport of ['udp', 'tcp']) {
        const url = `turn:127.0.0.1:${port}?transport=${transport}`;
        let result = await probeTurnServer({ url, ...creds, timeoutMs: 2_000 });
        for (let i = 0; !result.ok && i < 20; i++) {
          await new Promise((r) => setTimeout(r, 250));
          result = await probeTurnServer({ url, ...creds, timeoutMs: 2_000 });
        }
        expect(result, url).toMatchObject({ ok: true });
      }
      const wrong = mintTurnCredentials({ secret: `${secret}x`, sessionId: 'image-test' });
      const refused = await probeTurnServer({ url: `turn:127.0.0.1:${port}`, ...wrong });
      expect(refused.ok).toBe(false);
    } finally {
      await turn.stop();
    }
  }, 120_000);

  it(
    'builds the same digest again from nothing (no cached layer)',
    async () => {
      const cache = join(work, 'cache');
      const [again] = await buildImages({
        only: ['operator'],
        cache,
        rebuild: true,
        log: () => {},
      });
      expect(again?.cached).toBe(false);
      expect(again?.digest).toBe(byName('operator').digest);
    },
    10 * 60_000,
  );

  it('reuses the cache when nothing changed', async () => {
    const [warm] = await buildImages({ only: ['gateway'], log: () => {} });
    expect(warm).toMatchObject({ cached: true, digest: byName('gateway').digest });
  });
});
