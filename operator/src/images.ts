// The names of Floe's container images: the one place that says what `npm run images`
// (deploy/images/build.ts) tags and what the operator (and later the chart) defaults to, so
// that no default names an image nobody builds.

/** The release the images are tagged with; bumped with a release of Floe. */
export const FLOE_IMAGE_TAG = '0.1.0';

/** The images `npm run images` builds. */
export const FLOE_IMAGES = [
  'control',
  'gateway',
  'operator',
  'streamer',
  'xserver',
  'xterm',
  'turn',
] as const;
export type FloeImage = (typeof FLOE_IMAGES)[number];

/**
 * `floe/<name>:<tag>`, under `registry` when one is given (e.g. `registry.example:5000` or
 * `ghcr.io/acme`): what a pod's `image` field names.
 */
export function floeImage(name: FloeImage, registry = ''): string {
  const prefix = registry.replace(/\/+$/, '');
  return `${prefix ? `${prefix}/` : ''}floe/${name}:${FLOE_IMAGE_TAG}`;
}
