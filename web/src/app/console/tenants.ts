/** Tenants (platform admin): every tenant with its limits; create one. */
import { api, listAll } from '../api.ts';
import {
  empty,
  field,
  formFields,
  h,
  input,
  loading,
  notice,
  row,
  showFieldErrors,
  table,
} from '../dom.ts';
import { formatDate, formatLimit, UNITS } from '../format.ts';
import { tenantFormToBody } from '../forms.ts';
import { consoleHref } from '../route.ts';
import type { Tenant } from '../types.ts';
import type { SectionCtx } from './shell.ts';

export function tenantsSection(el: HTMLElement, _ctx: SectionCtx) {
  const status = notice();
  const list = h('div', { class: 'list' }, loading('tenants'));
  const num = (name: string) =>
    input(name, { type: 'number', min: 0, inputmode: 'numeric', placeholder: 'no limit' });
  const form = h(
    'form',
    { class: 'stack-form', novalidate: true, 'aria-label': 'Create a tenant' },
    h(
      'fieldset',
      { class: 'grid' },
      h('legend', {}, 'New tenant'),
      field('Slug', input('slug', { required: true, placeholder: 'acme' })),
      field('Name', input('name', { required: true, placeholder: 'Acme Corp' })),
      field('Concurrent sessions', num('maxSessions')),
      field('GPUs at once', num('maxGpus')),
      field('GPU-hours per month', num('gpuHoursPerMonth')),
      field(
        'Allowed regions',
        input('allowedRegions', { placeholder: 'any' }),
        'Separated by commas; empty: any region.',
      ),
    ),
    h(
      'div',
      { class: 'form-actions' },
      h('button', { type: 'submit', class: 'primary' }, 'Create tenant'),
    ),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const checked = tenantFormToBody(formFields(form));
    showFieldErrors(form, checked.ok ? {} : checked.errors);
    if (!checked.ok) return;
    try {
      const tenant = await api.post<Tenant>('/tenants', checked.body);
      form.reset();
      status.ok(`Created ${tenant.name}.`);
      await load();
    } catch (err) {
      status.error(err);
    }
  });

  async function load() {
    try {
      const tenants = (await listAll<Tenant>('/tenants')).sort((a, b) =>
        a.name.localeCompare(b.name),
      );
      list.replaceChildren(
        tenants.length === 0
          ? empty('No tenants yet.')
          : table(
              'Tenants',
              ['Tenant', 'Sessions', 'GPUs', 'GPU-hours / month', 'Regions', 'Created', ''],
              tenants.map((t) =>
                row(
                  [h('div', {}, t.name), h('div', { class: 'muted' }, t.slug)],
                  formatLimit(t.quotas.maxSessions, UNITS.sessions),
                  formatLimit(t.quotas.maxGpus, UNITS.gpus),
                  formatLimit(t.quotas.gpuHoursPerMonth, UNITS.gpuHours),
                  t.allowedRegions.join(', ') || 'any',
                  formatDate(t.createdAt),
                  h('a', { href: consoleHref('users', { tenant: t.slug }) }, `Manage ${t.slug}`),
                ),
              ),
            ),
      );
    } catch (err) {
      list.replaceChildren();
      status.error(err);
    }
  }

  el.append(list, form, status.el);
  load();
  return undefined;
}
