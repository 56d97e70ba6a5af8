// Assembles an OCI image layout from layer archives with umoci, every timestamp the build's
// SOURCE_DATE_EPOCH, and reads back what it made.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ImageConfig {
  user: string;
  entrypoint: string[];
  cmd: string[];
  env: Record<string, string>;
  workdir: string;
  ports: string[];
  labels: Record<string, string>;
}

export interface Layer {
  file: string;
  /** what made it, in the image's history */
  createdBy: string;
}

// spawns: umoci
const umoci = (args: string[]) =>
  execFileSync('umoci', args, { stdio: ['ignore', 'ignore', 'pipe'] });

/** Writes the image as `layout:tag` (a new OCI layout folder) and returns its manifest digest. */
export function assemble(
  layout: string,
  tag: string,
  layers: Layer[],
  config: ImageConfig,
  epoch: number,
) {
  const created = new Date(epoch * 1000).toISOString();
  const image = `${layout}:${tag}`;
  umoci(['init', '--layout', layout]);
  umoci(['new', '--image', image]);
  for (const l of layers) {
    umoci([
      'raw',
      'add-layer',
      '--image',
      image,
      '--history.created',
      created,
      '--history.created_by',
      l.createdBy,
      l.file,
    ]);
  }
  umoci([
    'config',
    '--image',
    image,
    '--no-history',
    '--created',
    created,
    '--author',
    'Floe (npm run images)',
    '--config.user',
    config.user,
    '--config.workingdir',
    config.workdir,
    ...config.entrypoint.flatMap((a) => ['--config.entrypoint', a]),
    ...config.cmd.flatMap((a) => ['--config.cmd', a]),
    ...Object.entries(config.env).flatMap(([k, v]) => ['--config.env', `${k}=${v}`]),
    ...config.ports.flatMap((p) => ['--config.exposedports', p]),
    ...Object.entries(config.labels).flatMap(([k, v]) => ['--config.label', `${k}=${v}`]),
  ]);
  umoci(['gc', '--layout', layout]);
  return readLayout(layout);
}

export interface LayoutInfo {
  digest: string;
  /** bytes a registry stores and a node pulls: manifest, config and compressed layers */
  compressed: number;
  layers: { digest: string; size: number }[];
}

/** The digest and sizes of the one image of an OCI layout. */
export function readLayout(layout: string): LayoutInfo {
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
  const desc = index.manifests[0];
  const blob = (d: string) => readFileSync(join(layout, 'blobs', ...d.split(':')), 'utf8');
  const manifest = JSON.parse(blob(desc.digest));
  const layers = manifest.layers.map((l: { digest: string; size: number }) => ({
    digest: l.digest,
    size: l.size,
  }));
  const compressed =
    desc.size +
    manifest.config.size +
    layers.reduce((n: number, l: { size: number }) => n + l.size, 0);
  return { digest: desc.digest, compressed, layers };
}
