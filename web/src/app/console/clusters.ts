/** Clusters (platform admin): the registered GPU clusters and their inventory. */
import { listAll } from '../api.ts';
import { empty, errorText, h, loading, row, table } from '../dom.ts';
import { formatLimit, gpuBadge, UNITS } from '../format.ts';
import type { Cluster } from '../types.ts';
import type { SectionCtx } from './shell.ts';

/** Live free/allocatable GPUs by SKU when a driver watches the cluster, else its inventory. */
function gpuSummary(c: Cluster): string {
  const text = c.capacity
    ? c.capacity.gpus.map((g) => `${g.free}/${g.allocatable}× ${g.sku.toUpperCase()}`)
    : c.gpus.map((g) => gpuBadge(g)).filter(Boolean);
  return text.join(', ') || 'none';
}

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
              [
                'Name',
                'Region',
                'Driver',
                'Status',
                'GPUs (free of all)',
                'Max sessions',
                'Labels',
              ],
              clusters.map((c) =>
                row(
                  c.name,
                  c.region,
                  c.driver,
                  c.error ? `${c.status}: ${c.error}` : c.status,
                  gpuSummary(c),
                  formatLimit(c.maxSessions, UNITS.sessions),
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
