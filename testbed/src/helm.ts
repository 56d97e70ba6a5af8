// Helm, built from its Go module (helm.sh/helm/v4, pinned by testbed/k8s/helm/go.mod) into the
// versioned cache the first time it is needed, like the testbed's Kubernetes binaries.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { cacheDir } from './cache.ts';
import { formatElapsed, pinned } from './kubernetes.ts';

const HELM_MODULE = 'helm.sh/helm/v4';
const moduleDir = fileURLToPath(new URL('../k8s/helm/', import.meta.url));

/** The pinned release, e.g. v4.3.2: testbed/k8s/helm/go.mod is the one place that says it. */
export function helmVersion(): string {
  return pinned('helm', HELM_MODULE);
}

/**
 * Builds `helm` into `~/.cache/floe/helm/<version>/bin/` (XDG_CACHE_HOME respected) unless it
 * is there, and returns its path. Upstream's release settings (its Makefile): static, trimmed,
 * `-s -w`, the version stamped so that `helm version` names the pin. A cold build compiles
 * about a thousand packages: a progress line goes to `onProgress` (default stderr) every 15 s.
 */
export async function ensureHelm(
  opts: { onProgress?: (line: string) => void; parallelism?: number } = {},
): Promise<string> {
  const log = opts.onProgress ?? ((line: string) => console.error(line));
  const version = helmVersion();
  const bin = cacheDir('helm', version, 'bin');
  const helm = join(bin, 'helm');
  if (existsSync(helm)) return helm;
  mkdirSync(bin, { recursive: true });
  // a private name renamed into place when complete: a killed or concurrent build never
  // leaves a truncated binary under the final name
  const partial = `${helm}.${process.pid}.partial`;
  const started = Date.now();
  let compiled = 0;
  log(`[helm] building helm ${version} into ${bin} (once; a few minutes cold)`);
  const tick = setInterval(
    () => log(`[helm] ${compiled} packages compiled in ${formatElapsed(Date.now() - started)}`),
    15_000,
  );
  const ldflags = [
    '-s',
    '-w',
    `-X ${HELM_MODULE}/internal/version.version=${version}`,
    `-X ${HELM_MODULE}/internal/version.gitTreeState=clean`,
    `-X ${HELM_MODULE}/internal/version.metadata=`,
  ].join(' ');
  const args = [
    'build',
    '-v',
    '-p',
    String(opts.parallelism ?? availableParallelism()),
    '-trimpath',
    '-ldflags',
    ldflags,
    '-o',
    partial,
    `${HELM_MODULE}/cmd/helm`,
  ];
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn('go', args, {
        cwd: moduleDir,
        // -mod=readonly: the wrapper's go.mod and go.sum stay the only pin
        env: {
          ...process.env,
          CGO_ENABLED: '0',
          GOFLAGS: [process.env.GOFLAGS, '-mod=readonly'].filter(Boolean).join(' '),
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let tail = '';
      createInterface({ input: child.stderr }).on('line', (line) => {
        // an import path alone on its line is a package compiled; anything else is a message
        if (/^[\w.-]+(\/[\w.~+-]+)*$/.test(line)) compiled++;
        else tail = `${tail}${line}\n`.slice(-4000);
      });
      child.on('error', (err) =>
        reject(new Error(`cannot run go (Go 1.26+ must be on PATH): ${err.message}`)),
      );
      child.on('exit', (code, signal) => {
        if (code === 0) resolve();
        else
          reject(
            new Error(
              `go build of helm in ${moduleDir} failed (${signal ?? `exit ${code}`}):\n${tail}`,
            ),
          );
      });
    });
    renameSync(partial, helm);
  } finally {
    clearInterval(tick);
    rmSync(partial, { force: true });
  }
  log(
    `[helm] built helm ${version} in ${formatElapsed(Date.now() - started)} (${compiled} packages)`,
  );
  return helm;
}
