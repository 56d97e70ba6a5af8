/** Clusters (platform admin): the registered GPU clusters and their inventory. */
import { listAll } from '../api.ts';
import { empty, errorText, h, loading, row, table } from '../dom.ts';
import { formatLimit, gpuBadge } from '../format.ts';
import type { Cluster } from '../types.ts';
import type { SectionCtx } from './shell.ts';

export function clustersSection(el: HTMLElement, _ctx: SectionCtx) {
  const list = h('div', { class: 'list' }, loading('clusters'));
  el.append(
    h(
      'p',
      { class: 'lead' },
      'Clusters are registered through the provisioning API (POST /v1/clusters).',
    ),
    list,
  );
  listAll<Cluster>('/clusters')
    .then((clusters) => {
      clusters.sort((a, b) => a.region.localeCompare(b.region) || a.name.localeCompare(b.name));
      list.replaceChildren(
        clusters.length === 0
          ? empty('No clusters are registered.')
          : table(
              'Clusters',
              ['Name', 'Region', 'Driver', 'GPUs', 'Max sessions', 'Labels'],
              clusters.map((c) =>
                row(
                  c.name,
                  c.region,
                  c.driver,
                  c.gpus
                    .map((g) => gpuBadge(g))
                    .filter(Boolean)
                    .join(', ') || 'none',
                  formatLimit(c.maxSessions),
                  Object.entries(c.labels)
                    .map(([k, v]) => `${k}=${v}`)
                    .join(', ') || '—',
                ),
              ),
            ),
      );
    })
    .catch((err: unknown) =>
      list.replaceChildren(h('p', { class: 'notice error', role: 'alert' }, errorText(err))),
    );
  return undefined;
}
