// The layers of an image, each a tar archive made the same way every time: entries sorted by
// name, one fixed mtime (SOURCE_DATE_EPOCH), numeric owners, no atime/ctime or pid in headers.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { type LockEntry, productionClosure } from './closure.ts';
import type { Recipe } from './recipe.ts';

/** The unprivileged user of every image: the uid/gid the operator's pods run as. */
export const FLOE_UID = 1000;

/** Writes `dir`'s contents as a reproducible tar at `out`; owners kept unless `root`. */
export function tarDirectory(dir: string, out: string, epoch: number, root: boolean) {
  const entries = readdirSync(dir).sort();
  // spawns: tar
  execFileSync('tar', [
    '--create',
    `--file=${out}`,
    `--directory=${dir}`,
    '--sort=name',
    `--mtime=@${epoch}`,
    '--numeric-owner',
    ...(root ? ['--owner=0', '--group=0'] : []),
    '--format=pax',
    '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime',
    '--no-recursion',
    ...listTree(dir, entries),
  ]);
}

/** Every path under dir (relative), parents before children: tar --sort needs --recursion off. */
function listTree(dir: string, top: string[]): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    out.push(rel);
    const st = lstatSync(join(dir, rel));
    if (st.isDirectory()) for (const e of readdirSync(join(dir, rel)).sort()) walk(`${rel}/${e}`);
  };
  for (const e of top) walk(e);
  return out;
}

/** What mmdebstrap needs to make the Debian layer: the cache key covers all of it. */
export interface DebianInputs {
  suite: string;
  variant: Recipe['debian']['variant'];
  packages: string[];
  prune: string[];
  /** an apt sources file (deb822 or one-line) naming the mirrors */
  sources: string;
}

const DROP = [
  'usr/share/doc',
  'usr/share/man',
  'usr/share/info',
  'usr/share/lintian',
  'usr/share/locale',
];

/** Makes the Debian root filesystem with mmdebstrap in `stage` and finishes it for an image. */
export function debianRootfs(
  stage: string,
  d: DebianInputs,
  epoch: number,
  log: (s: string) => void,
) {
  const excludes = DROP.map((p) => `--dpkgopt=path-exclude=/${p}/*`);
  // spawns: mmdebstrap
  execFileSync(
    'mmdebstrap',
    [
      `--variant=${d.variant}`,
      `--include=${[...d.packages].sort().join(',')}`,
      ...(d.variant === 'essential' ? excludes : []),
      '--quiet',
      d.suite,
      stage,
      d.sources,
    ],
    {
      env: { ...process.env, SOURCE_DATE_EPOCH: String(epoch) },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  log('mmdebstrap done');
  // what a container gets from its runtime, or never needs: the host's DNS and name, devices,
  // apt's state, documentation
  for (const p of [
    'etc/resolv.conf',
    'etc/hostname',
    'etc/apt',
    'var/lib/apt',
    'var/cache/apt',
    ...DROP,
    ...d.prune,
  ]) {
    rmSync(join(stage, p), { recursive: true, force: true });
  }
  for (const e of readdirSync(join(stage, 'dev')))
    rmSync(join(stage, 'dev', e), { recursive: true });
  const shell = d.variant === 'essential' ? '/bin/sh' : '/nonexistent';
  const user = `floe:x:${FLOE_UID}:${FLOE_UID}:Floe:/home/floe:${shell}\n`;
  const group = `floe:x:${FLOE_UID}:\n`;
  appendOrCreate(join(stage, 'etc/passwd'), 'root:x:0:0:root:/root:/nonexistent\n', user);
  appendOrCreate(join(stage, 'etc/group'), 'root:x:0:\n', group);
  mkdirSync(join(stage, 'home/floe'), { recursive: true });
  execFileSync('chown', [`${FLOE_UID}:${FLOE_UID}`, join(stage, 'home/floe')]); // spawns: chown
  mkdirSync(join(stage, 'tmp'), { recursive: true });
  chmodSync(join(stage, 'tmp'), 0o1777);
}

function appendOrCreate(file: string, initial: string, line: string) {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    text = initial;
  }
  writeFileSync(file, text + line);
}

/** Files of npm packages that Node never loads: source maps, type declarations, prose. */
const NOT_RUN = /\.(map|d\.ts|d\.mts|d\.cts|md|markdown)$/i;

/** One file of the /app layer: copied from the repository, written, a link, or a folder. */
export type AppEntry =
  | { dest: string; src: string; mode: number }
  | { dest: string; content: string }
  | { dest: string; link: string }
  | { dest: string; dir: true };

/**
 * The files of the image's own layer: the workspace's sources, the production npm closure laid
 * out as in the repository (workspaces linked from node_modules, so Node strips their types:
 * it refuses to for files under node_modules), the recipe's includes, files, built files and
 * folders.
 */
export async function appEntries(repo: string, recipe: Recipe): Promise<AppEntry[]> {
  const out: AppEntry[] = [];
  const copyTree = (rel: string, skipNodeModules: boolean, prune = false) => {
    const walk = (r: string) => {
      const st = lstatSync(join(repo, r));
      if (st.isSymbolicLink()) throw new Error(`${r}: a symbolic link in an image input`);
      if (st.isDirectory()) {
        for (const e of readdirSync(join(repo, r)).sort()) {
          if (skipNodeModules && e === 'node_modules') continue;
          if (prune && NOT_RUN.test(e)) continue;
          walk(`${r}/${e}`);
        }
      } else {
        out.push({ dest: `/app/${r}`, src: join(repo, r), mode: st.mode & 0o111 ? 0o755 : 0o644 });
      }
    };
    if (!existsSync(join(repo, rel))) {
      throw new Error(
        `${rel} is missing: build it first (sh scripts/ensure-deps.sh builds web/dist)`,
      );
    }
    walk(rel);
  };
  if (recipe.workspace) {
    const lock = JSON.parse(readFileSync(join(repo, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, LockEntry>;
    };
    const closure = productionClosure(lock.packages, recipe.workspace);
    out.push({
      dest: '/app/package.json',
      content: '{ "name": "floe", "private": true, "type": "module" }\n',
    });
    // workspaces of sourcesOf: their sources and a link, none of their npm closure
    const sourcesOnly = recipe.sourcesOf.filter((w) => !closure.workspaces.includes(w));
    const links = { ...closure.links };
    for (const ws of sourcesOnly) {
      const link = Object.keys(lock.packages).find(
        (p) =>
          p.startsWith('node_modules/') &&
          lock.packages[p]?.link &&
          lock.packages[p]?.resolved === ws,
      );
      if (!link) throw new Error(`sourcesOf: ${ws} is not a workspace of package-lock.json`);
      links[link] = ws;
    }
    for (const ws of [...closure.workspaces, ...sourcesOnly]) {
      out.push({
        dest: `/app/${ws}/package.json`,
        src: join(repo, ws, 'package.json'),
        mode: 0o644,
      });
      copyTree(`${ws}/src`, true);
    }
    for (const p of closure.packages) copyTree(p, true, true);
    for (const [link, ws] of Object.entries(links)) {
      out.push({ dest: `/app/${link}`, link: relative(dirname(`/app/${link}`), `/app/${ws}`) });
    }
  }
  for (const inc of recipe.include) copyTree(inc, true);
  for (const f of recipe.files) {
    const [file, name] = f.from.split('#') as [string, string];
    const mod = (await import(join(repo, file))) as Record<string, unknown>;
    if (typeof mod[name] !== 'string') throw new Error(`${f.from} is not an exported string`);
    out.push({ dest: f.path, content: mod[name] });
  }
  for (const b of recipe.built) {
    const [file, name] = b.from.split('#') as [string, string];
    const mod = (await import(join(repo, file))) as Record<string, unknown>;
    const build = mod[name];
    if (typeof build !== 'function') throw new Error(`${b.from} is not an exported function`);
    const src = await (build as () => Promise<string>)();
    // a library the app's user loads: read-only to all, as the image's other files
    out.push({ dest: b.path, src, mode: 0o644 });
  }
  for (const d of recipe.dirs) out.push({ dest: d, dir: true });
  return out.sort((a, b) => (a.dest < b.dest ? -1 : a.dest > b.dest ? 1 : 0));
}

/** A digest of the entries' names, modes and contents: the app layer's part of the cache key. */
export function hashEntries(entries: AppEntry[]): string {
  const h = createHash('sha256');
  for (const e of entries) {
    h.update(`${e.dest}\0`);
    if ('src' in e) h.update(`${e.mode}\0`).update(readFileSync(e.src));
    else if ('content' in e) h.update('content\0').update(e.content);
    else if ('link' in e) h.update(`link\0${e.link}`);
    else h.update('dir');
    h.update('\0\0');
  }
  return h.digest('hex');
}

/** Lays the entries out under `stage` (owned by root, read-only to the image's user). */
export function stageEntries(stage: string, entries: AppEntry[]) {
  for (const e of entries) {
    const path = join(stage, e.dest);
    mkdirSync(dirname(path), { recursive: true });
    if ('src' in e) {
      copyFileSync(e.src, path);
      chmodSync(path, e.mode);
    } else if ('content' in e) writeFileSync(path, e.content, { mode: 0o644 });
    else if ('link' in e) symlinkSync(e.link, path);
    else mkdirSync(path, { recursive: true });
  }
  // folders made by mkdir follow the umask: the same mode everywhere
  // spawns: chmod
  execFileSync('find', [stage, '-type', 'd', '-exec', 'chmod', '0755', '{}', '+']); // spawns: find
}

/** Lays the node binary out at usr/local/bin/node under `stage`. */
export function stageNode(stage: string, nodeBinary: string) {
  mkdirSync(join(stage, 'usr/local/bin'), { recursive: true });
  cpSync(nodeBinary, join(stage, 'usr/local/bin/node'));
  chmodSync(join(stage, 'usr/local/bin/node'), 0o755);
}
