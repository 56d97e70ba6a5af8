import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BuildResult, buildWeb } from '../build.ts';

describe('buildWeb', () => {
  let outDir: string;
  let result: BuildResult;

  beforeAll(async () => {
    outDir = mkdtempSync(join(tmpdir(), 'floe-web-build-'));
    result = await buildWeb({ outDir });
  });
  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  const read = (file: string) => readFileSync(join(result.dir, file), 'utf8');

  it('writes the page, script and style into <out>/stream', () => {
    expect(result.dir).toBe(join(outDir, 'stream'));
    expect(result.files).toEqual(
      expect.arrayContaining(['index.html', 'stream.js', 'stream.css', 'stream.js.map']),
    );
    expect(read('index.html')).toContain('src="stream.js"');
    expect(read('index.html')).toContain('href="stream.css"');
  });

  it('references nothing on the network', () => {
    // RTP header extensions are named by URIs that nothing fetches (RFC 8285); the page names
    // abs-capture-time so that Chrome negotiates it. Any other URL would be a reference.
    const EXTENSION_NAMES = /http:\/\/www\.webrtc\.org\/experiments\/rtp-hdrext\/[\w-]+/g;
    for (const file of result.files) {
      expect(read(file).replace(EXTENSION_NAMES, ''), file).not.toMatch(/https?:\/\//);
    }
    // Every reference in the page is relative to it (it may live under a proxy prefix).
    const refs = [...read('index.html').matchAll(/(?:src|href)="([^"]*)"/g)].map((m) => m[1]);
    for (const ref of refs) expect(ref, ref).toMatch(/^(?:data:|\.|[a-z][\w.-]*$)/);
  });

  it('takes only the protocol, codec profiles, barcode and idle warning lead from the streamer, and no zod', () => {
    expect(
      result.inputs.filter((f) =>
        /node_modules|streamer\/src\/(?!barcode|protocol\.ts|codec\.ts|idle-warning\.ts)/.test(f),
      ),
    ).toEqual([]);
    expect(read('stream.js')).not.toMatch(/zod/i);
    // A regression to a value import from protocol-schema.ts would add ~440 kB of zod.
    expect(read('stream.js').length).toBeLessThan(100_000);
  });
});
