// The operator's command line: run (default), `manifests`, `install-crd`, `--help`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { apply, connectKube } from '@floe/kube/kube';
import { at, R } from '@floe/kube/resources';
import { helpText, loadConfig } from './config.ts';
import { sessionCrd } from './crd.ts';
import { renderManifests } from './manifests.ts';
import { loadKubeConfig, startOperator } from './operator.ts';

async function main(argv: string[]) {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(helpText());
    return;
  }
  const [command, ...rest] = argv[0] && !argv[0].startsWith('-') ? argv : ['run', ...argv];
  if (command === 'manifests') {
    const files = renderManifests();
    if (rest.includes('--write')) {
      const dir = fileURLToPath(new URL('../manifests/', import.meta.url));
      mkdirSync(dir, { recursive: true });
      for (const [name, text] of Object.entries(files)) writeFileSync(`${dir}${name}`, text);
      process.stderr.write(`wrote ${Object.keys(files).join(', ')} to ${dir}\n`);
    } else {
      process.stdout.write(`${files['crd.yaml']}---\n${files['rbac.yaml']}`);
    }
    return;
  }
  const config = loadConfig(rest);
  if (command === 'install-crd') {
    const kube = connectKube(loadKubeConfig(config.kubeconfig));
    await apply(kube, at(R.crd, undefined, sessionCrd.metadata.name), sessionCrd);
    kube.close();
    process.stderr.write(`applied ${sessionCrd.metadata.name}\n`);
    return;
  }
  if (command !== 'run') throw new Error(`unknown command ${command}; see --help`);
  const operator = await startOperator({ config, processMetrics: true });
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    process.stderr.write(`${signal}: releasing the lease and stopping\n`);
    operator.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main(process.argv.slice(2)).catch((err: Error) => {
  process.stderr.write(`floe-operator: ${err.message}\n`);
  process.exit(1);
});
