// The recipes load and name exactly the images of operator/src/images.ts; the command explains
// itself and refuses what it does not know.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { FLOE_IMAGE_TAG, FLOE_IMAGES } from '../../operator/src/images.ts';
import { labels } from '../images/build.ts';
import { loadRecipes } from '../images/recipe.ts';

const BUILD = join(import.meta.dirname, '../images/build.ts');

describe('recipes', () => {
  it('has one recipe per image the operator names, each running as Node or a Debian program', () => {
    const recipes = loadRecipes();
    expect(recipes.map((r) => r.name).sort()).toEqual([...FLOE_IMAGES].sort());
    for (const r of recipes) {
      expect(r.entrypoint[0], r.name).toBe(r.node ? '/usr/local/bin/node' : r.entrypoint[0]);
      expect(r.node, r.name).toBe(r.workspace !== undefined);
    }
  });

  it('labels an image with the OCI annotations, its name and the fixed time', () => {
    const [control] = loadRecipes().filter((r) => r.name === 'control');
    expect(labels(control!, 0)).toMatchObject({
      'org.opencontainers.image.title': 'Floe control plane',
      'org.opencontainers.image.version': FLOE_IMAGE_TAG,
      'org.opencontainers.image.ref.name': `floe/control:${FLOE_IMAGE_TAG}`,
      'org.opencontainers.image.created': '1970-01-01T00:00:00.000Z',
    });
  });

  it('starts the control plane with the Node flags of npm start and the export benchmark', () => {
    const [control] = loadRecipes().filter((r) => r.name === 'control');
    const flags = control!.entrypoint.slice(1, -1);
    // a young generation of 2 MB semi-spaces and an old one grown by 30 % over what it holds
    // rather than up to 4 times: the control plane idles at about 135 MiB RSS, not 280, and
    // an export's garbage socket buffers are collected by frequent scavenges rather than
    // tens of MB at a time, so it stays under 250 MB (docs/benchmarks.md, "Billing exports")
    expect(flags).toEqual(['--max-semi-space-size=2', '--heap-growing-percent=30']);
    const scripts = JSON.parse(
      readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8'),
    ).scripts as Record<string, string>;
    expect(scripts.start).toContain(`node ${flags.join(' ')} platform/src/main.ts`);
    expect(scripts['start:control']).toBe(`node ${flags.join(' ')} control/src/main.ts`);
  });

  it('refuses a bad recipe naming its file and field', () => {
    const dir = mkdtempSync(join(inject('testbed').tempRoot, 'floe-recipes-'));
    writeFileSync(
      join(dir, 'bad.json'),
      JSON.stringify({ name: 'bad', title: 't', description: 'd', node: false, entrypoint: [] }),
    );
    expect(() => loadRecipes(dir)).toThrow(/bad\.json:\n {2}debian: .*\n {2}entrypoint: /);
  });
});

describe('npm run images', () => {
  it('explains itself with --help and refuses an unknown option or image', () => {
    const run = (args: string[]) =>
      spawnSync(process.execPath, [BUILD, ...args], { encoding: 'utf8', timeout: 20_000 });
    const help = run(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: npm run images');
    expect(help.stdout).toContain('control, gateway, operator, streamer, turn, xserver, xterm');
    const bad = run(['--frobnicate']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("Unknown option '--frobnicate'");
    const unknown = run([
      '--only',
      'nope',
      '--cache',
      mkdtempSync(join(inject('testbed').tempRoot, 'floe-c-')),
    ]);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain('no recipe named nope');
  });
});
