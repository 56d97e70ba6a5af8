/**
 * Builds the browser pages (with source maps), each self-contained:
 *
 * - <out>/stream/: index.html, stream.js, stream.css, the stream client. Referenced by
 *   relative URLs: the gateway serves these files at each session's /sessions/{id}/ (never the
 *   session: gateway/src/sessions/stream-page.ts lists them), a streamer run by hand at its
 *   root.
 * - <out>/app/: index.html, app.js, app.css, the launcher and admin console (one single-page
 *   app). The gateway serves index.html for `/` and `/console/*` and the folder at `/app/`, so
 *   the page refers to `/app/app.js` and `/app/app.css` from any of its paths.
 *
 *   node web/build.ts [--out web/dist] [--watch]
 */

import { watch as watchFile } from 'node:fs';
import { copyFile, mkdir, readdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';

const webDir = dirname(fileURLToPath(import.meta.url));

interface Bundle {
  /** The source folder under src/. */
  name: string;
  /** The entry points, in the source folder. */
  script: string;
  style: string;
  /** The folder under the dist folder, and the name of the built .js and .css. */
  out: string;
}

const STREAM: Bundle = { name: 'stream', script: 'main.ts', style: 'stream.css', out: 'stream' };
const APP: Bundle = { name: 'app', script: 'main.ts', style: 'app.css', out: 'app' };

/** Where `node web/build.ts` puts the client unless told otherwise. */
export const defaultOutDir = join(webDir, 'dist');

export interface BuildOptions {
  /** The dist folder; the pages go to `<outDir>/stream` and `<outDir>/app`. */
  outDir?: string;
  /** Rebuild on every change until the returned `stop` is called. */
  watch?: boolean;
}

export interface BuildResult {
  /** The folder holding index.html and the page's script and style. */
  dir: string;
  /** Files written, relative to `dir`. */
  files: string[];
  /** Every source file that went into the bundle (to check what got in). */
  inputs: string[];
  /** Ends watching (a no-op without `watch`). */
  stop(): Promise<void>;
}

function esbuildOptions(bundle: Bundle, dir: string): esbuild.BuildOptions {
  const sourceDir = join(webDir, 'src', bundle.name);
  return {
    entryPoints: [
      { in: join(sourceDir, bundle.script), out: bundle.out },
      { in: join(sourceDir, bundle.style), out: bundle.out },
    ],
    outdir: dir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    // Browsers with requestVideoFrameCallback and RTCRtpReceiver.jitterBufferTarget in reach.
    target: ['chrome110', 'firefox115', 'safari16'],
    minify: true,
    sourcemap: true,
    metafile: true,
    legalComments: 'none',
    logLevel: 'warning',
  };
}

async function build(bundle: Bundle, options: BuildOptions): Promise<BuildResult> {
  const sourceDir = join(webDir, 'src', bundle.name);
  const dir = join(resolve(options.outDir ?? defaultOutDir), bundle.out);
  const copyHtml = () => copyFile(join(sourceDir, 'index.html'), join(dir, 'index.html'));
  await mkdir(dir, { recursive: true });
  await copyHtml();

  let inputs: string[];
  let stop = async () => {};
  if (options.watch) {
    const ctx = await esbuild.context(esbuildOptions(bundle, dir));
    await ctx.watch();
    const result = await ctx.rebuild();
    inputs = Object.keys(result.metafile?.inputs ?? {});
    const html = watchFile(join(sourceDir, 'index.html'), () => {
      copyHtml().catch((err: unknown) => console.error(`index.html: ${err}`));
    });
    stop = async () => {
      html.close();
      await ctx.dispose();
    };
  } else {
    const result = await esbuild.build(esbuildOptions(bundle, dir));
    inputs = Object.keys(result.metafile?.inputs ?? {});
  }
  const files = (await readdir(dir)).sort();
  return { dir, files, inputs, stop };
}

/** Builds the stream client into `<outDir>/stream`. */
export function buildWeb(options: BuildOptions = {}): Promise<BuildResult> {
  return build(STREAM, options);
}

/** Builds the launcher and admin console into `<outDir>/app`. */
export function buildApp(options: BuildOptions = {}): Promise<BuildResult> {
  return build(APP, options);
}

/**
 * The latency probe for another streamer's page (src/peer-probe), as one script to inject
 * before that page's own (Playwright's addInitScript): the latency benchmark's peers.
 */
export async function buildPeerProbe(): Promise<string> {
  const result = await esbuild.build({
    entryPoints: [join(webDir, 'src', 'peer-probe', 'main.ts')],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: ['chrome110'],
    logLevel: 'warning',
  });
  return result.outputFiles[0]!.text;
}

const usage = `Usage: node web/build.ts [--out DIR] [--watch]

Bundles the stream client into DIR/stream (index.html, stream.js, stream.css) and the
launcher and admin console into DIR/app (index.html, app.js, app.css).

  --out DIR   dist folder (default: web/dist)
  --watch     rebuild on change until interrupted
  --help      show this help`;

async function main() {
  let args: { out?: string; watch?: boolean; help?: boolean };
  try {
    ({ values: args } = parseArgs({
      options: {
        out: { type: 'string' },
        watch: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${usage}`);
    process.exit(2);
  }
  if (args.help) {
    console.log(usage);
    return;
  }
  const options = { outDir: args.out, watch: args.watch };
  for (const result of await Promise.all([buildWeb(options), buildApp(options)])) {
    console.log(`built ${result.dir}: ${result.files.join(', ')}`);
  }
  if (args.watch) console.log('watching for changes (Ctrl+C to stop)');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
