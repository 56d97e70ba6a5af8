// PURE: which installed npm packages a workspace needs at run time, read from package-lock.json
// the way Node resolves imports (the nearest node_modules folder upwards). Only `dependencies`,
// `optionalDependencies` and required `peerDependencies` are followed, so an image gets the
// production closure of one workspace without running npm.

/** An entry of package-lock.json's `packages` (lockfileVersion 3). */
export interface LockEntry {
  version?: string;
  resolved?: string;
  link?: boolean;
  dev?: boolean;
  optional?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

export interface Closure {
  /** lock paths of installed packages to copy (`node_modules/zod`, `a/node_modules/b`), sorted */
  packages: string[];
  /** workspace folders reached (`operator`, `turn`), sorted */
  workspaces: string[];
  /** links in node_modules to workspaces: lock path → workspace folder */
  links: Record<string, string>;
}

/** The folders Node searches for `name` from a package at lock path `from`, nearest first. */
export function candidates(from: string, name: string): string[] {
  const out: string[] = [];
  let dir = from;
  for (;;) {
    if (!dir.endsWith('/node_modules') && dir !== 'node_modules') {
      out.push(dir ? `${dir}/node_modules/${name}` : `node_modules/${name}`);
    }
    if (!dir) return out;
    const slash = dir.lastIndexOf('/');
    dir = slash < 0 ? '' : dir.slice(0, slash);
  }
}

export function productionClosure(packages: Record<string, LockEntry>, workspace: string): Closure {
  if (!packages[workspace]) throw new Error(`${workspace} is not a workspace of package-lock.json`);
  const seen = new Set<string>();
  const workspaces = new Set<string>();
  const links: Record<string, string> = {};
  const queue: string[] = [workspace];
  workspaces.add(workspace);
  while (queue.length > 0) {
    const from = queue.shift() as string;
    const entry = packages[from] as LockEntry;
    const wanted: [string, boolean][] = [
      ...Object.keys(entry.dependencies ?? {}).map((n): [string, boolean] => [n, false]),
      ...Object.keys(entry.optionalDependencies ?? {}).map((n): [string, boolean] => [n, true]),
      ...Object.keys(entry.peerDependencies ?? {}).map((n): [string, boolean] => [
        n,
        entry.peerDependenciesMeta?.[n]?.optional === true,
      ]),
    ];
    for (const [name, optional] of wanted) {
      const found = candidates(from, name).find((c) => packages[c]);
      if (!found) {
        // an optional dependency for another platform is not installed: nothing to copy
        if (optional) continue;
        throw new Error(`${from || 'the root'} needs ${name}, which package-lock.json lacks`);
      }
      const target = packages[found] as LockEntry;
      if (target.link) {
        const ws = target.resolved as string;
        links[found] = ws;
        if (!workspaces.has(ws)) {
          workspaces.add(ws);
          queue.push(ws);
        }
        continue;
      }
      if (!seen.has(found)) {
        seen.add(found);
        queue.push(found);
      }
    }
  }
  return {
    packages: [...seen].sort(),
    workspaces: [...workspaces].sort(),
    links: Object.fromEntries(Object.entries(links).sort(([a], [b]) => a.localeCompare(b))),
  };
}
