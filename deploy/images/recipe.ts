// The recipes of deploy/images/recipes/*.json: one small declarative file per image.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

const absolute = z.string().regex(/^\/[^\0]*$/, 'an absolute path in the image');

export const recipeSchema = z.strictObject({
  /** the image is floe/<name>:<tag> (operator/src/images.ts) */
  name: z.string().regex(/^[a-z0-9-]+$/),
  title: z.string().min(1),
  description: z.string().min(1),
  debian: z.strictObject({
    /**
     * extract: the packages' files only (no maintainer scripts, no dpkg, no shell), for images
     * whose programs need libraries alone; essential: Debian's Essential set installed with dpkg
     * (a shell among them) plus the packages, for programs that run helpers through /bin/sh
     */
    variant: z.enum(['extract', 'essential']),
    packages: z.array(z.string().regex(/^[a-z0-9][a-z0-9+.-]+$/)).min(1),
    /** paths (relative to /) removed after install: what a dependency brings and nothing runs */
    prune: z.array(z.string().regex(/^[a-z0-9][^\0]*$/)).default([]),
  }),
  /** Node.js 24 (the `node` npm package's binary) at /usr/local/bin/node */
  node: z.boolean(),
  /** a workspace whose sources and production npm dependencies go to /app */
  workspace: z.string().optional(),
  /**
   * workspaces whose sources alone (src/ and package.json, linked from node_modules) go to
   * /app too: those the workspace imports only modules of that need none of their npm
   * dependencies (the gateway: control's issuers and session states), which as a dependency
   * would bring their whole closure
   */
  sourcesOf: z.array(z.string().regex(/^[a-z0-9-]+$/)).default([]),
  /** more repository paths copied to /app/<path> (migrations, built web assets) */
  include: z.array(z.string().regex(/^[a-z0-9][^\0]*$/)).default([]),
  /** files written from a string exported by a module of the repository (`file.ts#NAME`) */
  files: z
    .array(z.strictObject({ path: absolute, from: z.string().regex(/^[^#]+#\w+$/) }))
    .default([]),
  /**
   * files built on the machine that builds the images, by a function a module of the
   * repository exports (`file.ts#NAME`, resolving to the built file's path): the gamepad
   * interposer, compiled with this machine's C compiler. The machine and the images are the
   * same Debian release (build.ts SUITE, bookworm), so what it links is there in the image.
   */
  built: z
    .array(z.strictObject({ path: absolute, from: z.string().regex(/^[^#]+#\w+$/) }))
    .default([]),
  /** empty folders made in the image */
  dirs: z.array(absolute).default([]),
  entrypoint: z.array(z.string()).min(1),
  cmd: z.array(z.string()).default([]),
  env: z.record(z.string(), z.string()).default({}),
  ports: z.array(z.string().regex(/^\d+\/(tcp|udp)$/)).default([]),
});

export type Recipe = z.output<typeof recipeSchema>;

export const RECIPES_DIR = join(import.meta.dirname, 'recipes');

/** Every recipe, by file name order; a bad one throws naming its file and the field. */
export function loadRecipes(dir = RECIPES_DIR): Recipe[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const r = recipeSchema.safeParse(JSON.parse(readFileSync(join(dir, f), 'utf8')));
      if (!r.success) {
        const lines = r.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
        throw new Error(`deploy/images/recipes/${f}:\n${lines.join('\n')}`);
      }
      if (`${r.data.name}.json` !== f) throw new Error(`${f}: name must be ${f.slice(0, -5)}`);
      return r.data;
    });
}
