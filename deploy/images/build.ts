// `npm run images`: builds Floe's OCI images from deploy/images/recipes/*.json without a
// container daemon. Debian root filesystems come from mmdebstrap, Node.js from the `node` npm
// package, the sources and production npm dependencies from this repository; umoci assembles
// them. Same inputs, same digest: every timestamp is SOURCE_DATE_EPOCH and every archive is
// sorted. Each image is cached under ~/.cache/floe/images/v1/<name>-<key>/ (an OCI layout), and
// the Debian and Node layers under layers/, shared between images: a warm run rebuilds nothing.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { FLOE_IMAGE_TAG, type FloeImage, floeImage } from '../../operator/src/images.ts';
import {
  appEntries,
  debianRootfs,
  FLOE_UID,
  hashEntries,
  stageEntries,
  stageNode,
  tarDirectory,
} from './layers.ts';
import { assemble, type Layer } from './oci.ts';
import { loadRecipes, type Recipe } from './recipe.ts';

/** Bumped when the builder changes what it makes from the same inputs. */
const BUILDER_VERSION = 1;
const REPO = resolve(import.meta.dirname, '../..');
/**
 * The images' Debian release. What a recipe builds on this machine (its `built` files: the
 * gamepad interposer) links this machine's glibc, so the machine must run the same release:
 * checked before such a recipe is built (hostSuite).
 */
const SUITE = 'bookworm';

/** This machine's Debian release (/etc/os-release VERSION_CODENAME), or null. */
export function hostSuite(osRelease = '/etc/os-release'): string | null {
  if (!existsSync(osRelease)) return null;
  return /^VERSION_CODENAME=(\S+)$/m.exec(readFileSync(osRelease, 'utf8'))?.[1] ?? null;
}

export interface BuildOptions {
  /** the recipes to build (default all) */
  only?: string[];
  /** cache root (default $XDG_CACHE_HOME/floe/images/v1) */
  cache?: string;
  /** ignore cached images and layers (the reproducibility test builds twice) */
  rebuild?: boolean;
  /** fixed timestamp of every file and of the image (default SOURCE_DATE_EPOCH, else 0) */
  epoch?: number;
  /** apt sources the Debian packages come from (default the machine's own) */
  sources?: string;
  log?: (line: string) => void;
}

export interface BuiltImage {
  name: string;
  /** floe/<name>:<tag>, the reference the operator's defaults name */
  ref: string;
  tag: string;
  /** the OCI layout folder; the image is `oci:<layout>:<tag>` to skopeo */
  layout: string;
  digest: string;
  /** bytes a registry stores: manifest, config, compressed layers */
  compressed: number;
  /** bytes of the unpacked layers */
  unpacked: number;
  cached: boolean;
  seconds: number;
}

export function defaultCache(): string {
  return join(
    process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'),
    'floe',
    'images',
    `v${BUILDER_VERSION}`,
  );
}

export function defaultSources(): string {
  const deb822 = '/etc/apt/sources.list.d/debian.sources';
  return (
    process.env.FLOE_IMAGES_APT_SOURCES ?? (existsSync(deb822) ? deb822 : '/etc/apt/sources.list')
  );
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
// spawns: mmdebstrap umoci
const version = (tool: string) => execFileSync(tool, ['--version'], { encoding: 'utf8' }).trim();

/** The OCI labels of a recipe's image. */
export function labels(recipe: Recipe, epoch: number): Record<string, string> {
  return {
    'org.opencontainers.image.title': recipe.title,
    'org.opencontainers.image.description': recipe.description,
    'org.opencontainers.image.version': FLOE_IMAGE_TAG,
    'org.opencontainers.image.created': new Date(epoch * 1000).toISOString(),
    'org.opencontainers.image.vendor': 'Floe',
    'org.opencontainers.image.ref.name': floeImage(recipe.name as FloeImage),
    'org.opencontainers.image.base.name': `debian:${SUITE} (mmdebstrap ${recipe.debian.variant})`,
  };
}

export async function buildImages(opts: BuildOptions = {}): Promise<BuiltImage[]> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const cache = opts.cache ?? defaultCache();
  const epoch = opts.epoch ?? Number(process.env.SOURCE_DATE_EPOCH ?? 0);
  const sources = opts.sources ?? defaultSources();
  const recipes = loadRecipes().filter((r) => !opts.only || opts.only.includes(r.name));
  const unknown = (opts.only ?? []).filter((n) => !recipes.some((r) => r.name === n));
  if (unknown.length)
    throw new Error(`no recipe named ${unknown.join(', ')} in deploy/images/recipes`);
  const host = hostSuite();
  const compiling = recipes.filter((r) => r.built.length > 0);
  if (compiling.length > 0 && host !== SUITE) {
    throw new Error(
      `${compiling.map((r) => r.name).join(', ')}: built files link this machine's libraries, and this machine runs ${host ?? 'no known Debian release'}, the images ${SUITE}`,
    );
  }
  mkdirSync(join(cache, 'layers'), { recursive: true });
  const tools = { mmdebstrap: version('mmdebstrap'), umoci: version('umoci') };
  const sourcesText = readFileSync(sources, 'utf8');
  const nodeBinary = join(REPO, 'node_modules/node/bin/node');
  const nodeKey = sha256(readFileSync(nodeBinary));
  const out: BuiltImage[] = [];
  for (const recipe of recipes) {
    const started = Date.now();
    const say = (s: string) =>
      log(`images: ${recipe.name}: ${s} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    const debian = {
      suite: SUITE,
      ...recipe.debian,
      packages: [...recipe.debian.packages].sort(),
      sources,
    };
    const debianKey = sha256(
      JSON.stringify({ BUILDER_VERSION, ...debian, sources: sourcesText, tools, epoch }),
    );
    const entries = await appEntries(REPO, recipe);
    const appKey = hashEntries(entries);
    const key = sha256(
      JSON.stringify({
        BUILDER_VERSION,
        recipe,
        epoch,
        tag: FLOE_IMAGE_TAG,
        debianKey,
        nodeKey: recipe.node ? nodeKey : null,
        appKey,
        tools,
      }),
    );
    const dir = join(cache, `${recipe.name}-${key.slice(0, 16)}`);
    const layout = join(dir, 'oci');
    const meta = join(dir, 'image.json');
    if (!opts.rebuild && existsSync(meta)) {
      const image = {
        ...JSON.parse(readFileSync(meta, 'utf8')),
        layout,
        cached: true,
        seconds: 0,
      } as BuiltImage;
      say(`cached ${image.ref} ${image.digest}`);
      out.push(image);
      continue;
    }
    say(`building (key ${key.slice(0, 16)})`);
    const work = mkdtempSync(join(cache, `.build-${recipe.name}-`));
    try {
      const layers: Layer[] = [];
      const debianTar = join(cache, 'layers', `debian-${debianKey.slice(0, 16)}.tar`);
      if (opts.rebuild || !existsSync(debianTar)) {
        say(
          `mmdebstrap --variant=${debian.variant}: ${debian.packages.length} packages and their dependencies`,
        );
        const stage = join(work, 'rootfs');
        debianRootfs(stage, debian, epoch, say);
        tarDirectory(stage, `${debianTar}.${process.pid}.part`, epoch, false);
        renameSync(`${debianTar}.${process.pid}.part`, debianTar);
        rmSync(stage, { recursive: true, force: true });
        say(`debian layer ${mib(statSync(debianTar).size)}`);
      } else say(`debian layer cached (${mib(statSync(debianTar).size)})`);
      layers.push({
        file: debianTar,
        createdBy: `mmdebstrap --variant=${debian.variant} ${SUITE} ${debian.packages.join(' ')}`,
      });
      if (recipe.node) {
        const nodeTar = join(cache, 'layers', `node-${nodeKey.slice(0, 16)}.tar`);
        if (opts.rebuild || !existsSync(nodeTar)) {
          const stage = join(work, 'node');
          stageNode(stage, nodeBinary);
          tarDirectory(stage, `${nodeTar}.${process.pid}.part`, epoch, true);
          renameSync(`${nodeTar}.${process.pid}.part`, nodeTar);
        }
        layers.push({ file: nodeTar, createdBy: `node ${process.version} (the node npm package)` });
      }
      if (entries.length > 0) {
        const stage = join(work, 'app');
        stageEntries(stage, entries);
        tarDirectory(stage, join(work, 'app.tar'), epoch, true);
        layers.push({
          file: join(work, 'app.tar'),
          createdBy: `floe ${recipe.workspace ?? recipe.name}: ${entries.length} files`,
        });
        say(`app layer: ${entries.length} files, ${mib(statSync(join(work, 'app.tar')).size)}`);
      }
      say('umoci: assembling and compressing');
      const tmpLayout = join(work, 'oci');
      const info = assemble(
        tmpLayout,
        FLOE_IMAGE_TAG,
        layers,
        {
          user: `${FLOE_UID}:${FLOE_UID}`,
          entrypoint: recipe.entrypoint,
          cmd: recipe.cmd,
          env: { PATH: '/usr/local/bin:/usr/bin:/bin', ...recipe.env },
          workdir: recipe.workspace ? '/app' : '/home/floe',
          ports: recipe.ports,
          labels: labels(recipe, epoch),
        },
        epoch,
      );
      const image: BuiltImage = {
        name: recipe.name,
        ref: floeImage(recipe.name as FloeImage),
        tag: FLOE_IMAGE_TAG,
        layout,
        digest: info.digest,
        compressed: info.compressed,
        unpacked: layers.reduce((n, l) => n + statSync(l.file).size, 0),
        cached: false,
        seconds: (Date.now() - started) / 1000,
      };
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      renameSync(tmpLayout, layout);
      const { layout: _l, cached: _c, seconds: _s, ...rest } = image;
      // the shared layers it was made from: what the cache's clean-up keeps
      const stored = {
        ...rest,
        layerFiles: layers.map((l) => basename(l.file)).filter((f) => f !== 'app.tar'),
      };
      writeFileSync(meta, `${JSON.stringify(stored, null, 2)}\n`);
      // older builds of this image are of no use any more: keep the cache to one per image
      for (const e of readdirSync(cache)) {
        if (e.startsWith(`${recipe.name}-`) && join(cache, e) !== dir)
          rmSync(join(cache, e), { recursive: true, force: true });
      }
      say(`built ${image.ref} ${image.digest} ${mib(image.compressed)} compressed`);
      out.push(image);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
  removeUnusedLayers(cache);
  return out;
}

/** Removes the shared layers that no cached image was made from (older recipes' layers). */
function removeUnusedLayers(cache: string) {
  const used = new Set<string>();
  for (const e of readdirSync(cache)) {
    const meta = join(cache, e, 'image.json');
    if (!existsSync(meta)) continue;
    for (const f of (JSON.parse(readFileSync(meta, 'utf8')).layerFiles ?? []) as string[])
      used.add(f);
  }
  // a layer made in the last hour may belong to a build still running in another process
  const recent = Date.now() - 3_600_000;
  for (const f of readdirSync(join(cache, 'layers'))) {
    const file = join(cache, 'layers', f);
    if (f.endsWith('.tar') && !used.has(f) && statSync(file).mtimeMs < recent)
      rmSync(file, { force: true });
  }
}

/** Copies a built image to `registry` (host:port[/path]) as <registry>/floe/<name>:<tag>. */
export function pushImage(image: BuiltImage, registry: string, tlsVerify = true): string {
  const dest = `${registry.replace(/\/+$/, '')}/${image.ref}`;
  // spawns: skopeo
  execFileSync(
    'skopeo',
    [
      'copy',
      '--quiet',
      `--dest-tls-verify=${tlsVerify}`,
      `oci:${image.layout}:${image.tag}`,
      `docker://${dest}`,
    ],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  return dest;
}

export const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

const HELP = `Usage: npm run images [-- options]

Builds Floe's OCI images (no Docker daemon): ${loadRecipes()
  .map((r) => r.name)
  .join(', ')}.
Each is floe/<name>:${FLOE_IMAGE_TAG}, an OCI layout in the cache; the operator's defaults name
exactly these (operator/src/images.ts). Recipes: deploy/images/recipes/*.json.

Options:
  --only NAME[,NAME]   build only these images
  --push REGISTRY      copy them to REGISTRY/floe/<name>:${FLOE_IMAGE_TAG} with skopeo (host:port[/path])
  --tls-verify=false   push over plain HTTP (a registry on loopback)
  --cache DIR          cache folder (default ${defaultCache()})
  --rebuild            ignore cached images and layers
  --json FILE          write the built images (ref, digest, layout, sizes) as JSON
  -h, --help           this text

Environment: SOURCE_DATE_EPOCH (every timestamp; default 0), FLOE_IMAGES_APT_SOURCES (the apt
sources file mmdebstrap uses; default this machine's).`;

async function main(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      only: { type: 'string' },
      push: { type: 'string' },
      'tls-verify': { type: 'string', default: 'true' },
      cache: { type: 'string' },
      rebuild: { type: 'boolean', default: false },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const started = Date.now();
  const images = await buildImages({
    only: values.only?.split(',').map((s) => s.trim()),
    cache: values.cache,
    rebuild: values.rebuild,
  });
  for (const i of images) {
    const pushed = values.push
      ? `  → ${pushImage(i, values.push, values['tls-verify'] !== 'false')}`
      : '';
    process.stdout.write(
      `${i.ref.padEnd(22)} ${i.digest}  ${mib(i.compressed).padStart(10)} compressed ${mib(i.unpacked).padStart(10)} unpacked  ${i.cached ? 'cached' : `built in ${i.seconds.toFixed(0)} s`}${pushed}\n`,
    );
  }
  process.stdout.write(
    `${images.length} images in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
  if (values.json) writeFileSync(values.json, `${JSON.stringify(images, null, 2)}\n`);
}

if (import.meta.main) {
  main(process.argv.slice(2)).catch((err: Error & { stderr?: Buffer }) => {
    process.stderr.write(`images: ${err.message}\n${err.stderr ? err.stderr.toString() : ''}`);
    process.exit(1);
  });
}
