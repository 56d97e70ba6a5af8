// Each Node image's app layer runs on its own: its workspace, the workspaces it reaches and
// their npm closure, laid out as in the image (deploy/images/layers.ts) in a folder outside
// the repository, so that no import can fall back to the repository's node_modules. ESM
// links a module's whole static import graph before running any of it, so the entrypoint's
// `--help` fails here when the image lacks something an import needs (a workspace that is
// only a devDependency, say), without building the image.
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { appEntries } from '../images/layers.ts';
import { loadRecipes } from '../images/recipe.ts';

const repo = resolve(import.meta.dirname, '../..');

/** The layer's /app entries under `root` (files hard-linked where the file system allows). */
async function layOut(root: string, recipe: ReturnType<typeof loadRecipes>[number]) {
  // the built assets and rendered files are not the module graph's business
  const entries = await appEntries(repo, { ...recipe, include: [], files: [], dirs: [] });
  for (const e of entries) {
    if (!e.dest.startsWith('/app/')) continue;
    const p = join(root, e.dest.slice('/app/'.length));
    mkdirSync(dirname(p), { recursive: true });
    if ('src' in e) {
      try {
        linkSync(e.src, p);
      } catch {
        copyFileSync(e.src, p);
        chmodSync(p, e.mode);
      }
    } else if ('content' in e) writeFileSync(p, e.content);
    else if ('link' in e) symlinkSync(e.link, p);
    else mkdirSync(p, { recursive: true });
  }
}

describe('app layers', () => {
  const recipes = loadRecipes().filter((r) => r.workspace);

  it.each(recipes.map((r) => [r.name, r] as const))(
    'the %s image’s entrypoint loads from its app layer alone',
    async (_name, recipe) => {
      const root = mkdtempSync(join(inject('testbed').tempRoot, 'floe-app-layer-'));
      try {
        await layOut(root, recipe);
        const [, ...args] = recipe.entrypoint;
        const run = spawnSync(
          process.execPath,
          [...args.map((a) => a.replace(/^\/app\//, `${root}/`)), '--help'],
          { cwd: root, encoding: 'utf8', timeout: 30_000 },
        );
        expect(run.stderr, recipe.name).not.toMatch(/ERR_MODULE_NOT_FOUND|Cannot find/);
        expect(run.status, `${recipe.name}: ${run.stderr}`).toBe(0);
        expect(run.stdout, recipe.name).toMatch(/usage|floe-/i);
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    },
    60_000,
  );
});
