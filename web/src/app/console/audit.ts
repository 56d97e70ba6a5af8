/** The audit log: who changed what, when and from where; filters, more pages, JSONL download. */
import { api, apiUrl, tenantPath } from '../api.ts';
import { empty, field, formFields, h, input, loading, notice, row, select, table } from '../dom.ts';
import { formatDate } from '../format.ts';
import type { AuditEntry, Page } from '../types.ts';
import type { SectionCtx } from './shell.ts';

const ACTORS: [string, string][] = [
  ['', 'Anyone'],
  ['user', 'Users (signed in)'],
  ['api-key', 'API keys'],
  ['admin-token', 'Platform admin token'],
  ['system', 'Floe itself'],
];

/** "name: A → B" per changed field, values shortened. */
export function describeDiff(diff: AuditEntry['diff']): string {
  if (!diff) return '';
  const show = (v: unknown) => {
    const s = typeof v === 'string' ? v : JSON.stringify(v);
    return s.length > 40 ? `${s.slice(0, 39)}…` : s;
  };
  return Object.entries(diff)
    .map(([k, { from, to }]) => `${k}: ${show(from)} → ${show(to)}`)
    .join('; ');
}

const who = (e: AuditEntry) =>
  e.actor.type === 'system'
    ? 'Floe'
    : e.actor.type === 'admin-token'
      ? 'platform admin token'
      : `${e.actor.type === 'user' ? 'user' : 'key'} ${e.actor.id?.slice(0, 8) ?? ''} (${e.actor.role})`;

export function auditSection(el: HTMLElement, ctx: SectionCtx) {
  const slug = ctx.tenant!.slug;
  const base = tenantPath(slug, '/audit-log');
  const status = notice();
  const list = h('div', { class: 'list' }, loading('the audit log'));
  const more = h('button', { type: 'button', hidden: true }, 'Older entries');
  const download = h('a', { class: 'button', download: '' }, 'Download JSONL');
  let cursor: string | null = null;
  let rows: HTMLTableRowElement[] = [];

  const form = h(
    'form',
    { class: 'inline-form', 'aria-label': 'Filter the audit log' },
    field('Action', input('action', { placeholder: 'e.g. app.* or session.stop' })),
    field('Actor', select('actorType', ACTORS, '')),
    field('Target id', input('targetId', { placeholder: 'an id' })),
    field('Since', input('since', { type: 'date' })),
    field('Until', input('until', { type: 'date' })),
    h('button', { type: 'submit', class: 'primary' }, 'Filter'),
  );

  function query() {
    const f = formFields(form);
    const day = (d: string | undefined) =>
      d ? new Date(`${d}T00:00:00Z`).toISOString() : undefined;
    return {
      action: f.action?.trim() || undefined,
      actorType: f.actorType || undefined,
      targetId: f.targetId?.trim() || undefined,
      since: day(f.since),
      until: f.until
        ? new Date(Date.parse(`${f.until}T00:00:00Z`) + 86_400_000).toISOString()
        : undefined,
    };
  }

  const entryRow = (e: AuditEntry) => {
    const tr = row(
      formatDate(e.at),
      who(e),
      h('code', {}, e.action),
      `${e.target.type} ${e.target.id?.slice(0, 8) ?? ''}`,
      h('span', { class: 'diff' }, describeDiff(e.diff)),
      e.request.sourceIp ?? '—',
    );
    tr.dataset.entry = e.id;
    tr.title = e.request.userAgent ?? '';
    return tr;
  };

  async function load(reset: boolean) {
    const q = query();
    download.href = apiUrl(`${base}/export`, q);
    if (reset) {
      cursor = null;
      rows = [];
    }
    try {
      const page = await api.get<Page<AuditEntry>>(base, { ...q, limit: 50, cursor });
      rows.push(...page.items.map(entryRow));
      cursor = page.nextCursor;
      more.hidden = !cursor;
      status.clear();
      list.replaceChildren(
        rows.length === 0
          ? empty('No entries match.')
          : table('Audit log', ['When', 'Who', 'Action', 'Target', 'Change', 'From'], rows),
      );
    } catch (err) {
      status.error(err);
    }
  }
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void load(true);
  });
  more.addEventListener('click', () => void load(false));

  el.append(
    h(
      'p',
      { class: 'lead' },
      'Every change to this tenant, by whom and from where. Entries cannot be edited or removed.',
    ),
    form,
    h('p', {}, download),
    status.el,
    list,
    more,
  );
  void load(true);
  return undefined;
}
