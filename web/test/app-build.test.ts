import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BuildResult, buildApp } from '../build.ts';

describe('buildApp', () => {
  let outDir: string;
  let result: BuildResult;

  beforeAll(async () => {
    outDir = mkdtempSync(join(tmpdir(), 'floe-web-app-build-'));
    result = await buildApp({ outDir });
  });
  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  const read = (file: string) => readFileSync(join(result.dir, file), 'utf8');

  it('writes the page, script and style into <out>/app', () => {
    expect(result.dir).toBe(join(outDir, 'app'));
    expect(result.files).toEqual(['app.css', 'app.css.map', 'app.js', 'app.js.map', 'index.html']);
    // One page for every path of the app, so its files are named from the root.
    expect(read('index.html')).toContain('src="/app/app.js"');
    expect(read('index.html')).toContain('href="/app/app.css"');
  });

  it('references nothing on the network: no external URLs, fonts or CDNs', () => {
    for (const file of result.files.filter((f) => !f.endsWith('.map'))) {
      expect(read(file), file).not.toMatch(/(?:https?:)?\/\/[a-z0-9-]+\.[a-z]/i);
      expect(read(file), file).not.toMatch(/@import|@font-face/);
    }
    const refs = [...read('index.html').matchAll(/(?:src|href)="([^"]*)"/g)].map((m) => m[1]);
    for (const ref of refs) expect(ref, ref).toMatch(/^(?:data:|\/app\/[\w.-]+$|#main$|\/$)/);
  });

  it('bundles only its own sources, the control plane’s session states and stop reasons, and stays small', () => {
    // the only modules of another package: the states and "active", and why a session
    // stopped (the launcher says it), each defined once and without imports
    expect(result.inputs.filter((f) => !f.startsWith('web/src/app/'))).toEqual([
      'control/src/domain/session-states.ts',
      'control/src/domain/stop-reasons.ts',
    ]);
    expect(result.inputs.some((f) => f.startsWith('web/src/stream/'))).toBe(false);
    expect(read('app.js').length).toBeLessThan(80_000);
    expect(read('app.css').length).toBeLessThan(16_000);
  });
});
