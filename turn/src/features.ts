// What the installed turnserver was built with. Options coturn does not know are only
// logged ("Bad configuration format") and skipped, so a config that asks for a missing
// feature starts fine and silently lacks it; this lets callers check first.
import { spawnSync } from 'node:child_process';

export interface CoturnFeatures {
  /** e.g. "4.6.1"; undefined when the binary does not say */
  version: string | undefined;
  /** built with the Prometheus exporter (`--prometheus`); Debian's coturn 4.6.1 is not */
  prometheus: boolean;
}

export const DEFAULT_TURNSERVER = '/usr/bin/turnserver';

/** Reads features from `turnserver -h` output (and `--version` output, if given). */
export function parseCoturnHelp(helpText: string, versionText = ''): CoturnFeatures {
  const version = /\b(\d+\.\d+\.\d+)\b/.exec(versionText)?.[1];
  return { version, prometheus: /^\s*--prometheus\b/m.test(helpText) };
}

export function detectCoturnFeatures(binary = DEFAULT_TURNSERVER): CoturnFeatures {
  const run = (arg: string) => {
    // spawns: turnserver
    const result = spawnSync(binary, [arg], { encoding: 'utf8', timeout: 10_000 });
    if (result.error) {
      throw new Error(`cannot run ${binary} ${arg}: ${result.error.message}`);
    }
    return `${result.stdout}${result.stderr}`;
  };
  return parseCoturnHelp(run('-h'), run('--version'));
}
