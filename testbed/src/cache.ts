import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where built tools live between runs: outside the repo, one folder per pinned version. */
export function cacheDir(...parts: string[]): string {
  const base = process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache');
  return join(base, 'floe', ...parts);
}
