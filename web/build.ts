/**
 * Builds the browser stream client into <out>/stream/: index.html, stream.js, stream.css (with
 * source maps). Everything is self-contained and referenced by relative URLs, because the
 * streamer serves these files at its root and the page may sit behind a proxy prefix.
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
const sourceDir = join(webDir, 'src', 'stream');

/** Where `node web/build.ts` puts the client unless told otherwise. */
export const defaultOutDir = join(webDir, 'dist');

export interface BuildOptions {
  /** The dist folder; the client goes to `<outDir>/stream`. */
  outDir?: string;
  /** Rebuild on every change until the returned `stop` is called. */
  watch?: boolean;
}

export interface BuildResult {
  /** The folder holding index.html, stream.js and stream.css. */
  dir: string;
  /** Files written, relative to `dir`. */
  files: string[];
  /** Every source file that went into the bundle (to check what got in). */
  inputs: string[];
  /** Ends watching (a no-op without `watch`). */
  stop(): Promise<void>;
}

function esbuildOptions(dir: string): esbuild.BuildOptions {
  return {
    entryPoints: [
      { in: join(sourceDir, 'main.ts'), out: 'stream' },
      { in: join(sourceDir, 'stream.css'), out: 'stream' },
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

const copyHtml = (dir: string) => copyFile(join(sourceDir, 'index.html'), join(dir, 'index.html'));

export async function buildWeb(options: BuildOptions = {}): Promise<BuildResult> {
  const dir = join(resolve(options.outDir ?? defaultOutDir), 'stream');
  await mkdir(dir, { recursive: true });
  await copyHtml(dir);

  let inputs: string[];
  let stop = async () => {};
  if (options.watch) {
    const ctx = await esbuild.context(esbuildOptions(dir));
    await ctx.watch();
    const result = await ctx.rebuild();
    inputs = Object.keys(result.metafile?.inputs ?? {});
    const html = watchFile(join(sourceDir, 'index.html'), () => {
      copyHtml(dir).catch((err: unknown) => console.error(`index.html: ${err}`));
    });
    stop = async () => {
      html.close();
      await ctx.dispose();
    };
  } else {
    const result = await esbuild.build(esbuildOptions(dir));
    inputs = Object.keys(result.metafile?.inputs ?? {});
  }
  const files = (await readdir(dir)).sort();
  return { dir, files, inputs, stop };
}

const usage = `Usage: node web/build.ts [--out DIR] [--watch]

Bundles the stream client into DIR/stream (index.html, stream.js, stream.css).

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
  const result = await buildWeb({ outDir: args.out, watch: args.watch });
  console.log(`built ${result.dir}: ${result.files.join(', ')}`);
  if (args.watch) console.log('watching for changes (Ctrl+C to stop)');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
