/** Quotas & use: the tenant's limits beside what is in use now (and GPU-hours this month). */
import { api, listAll, tenantPath } from '../api.ts';
import {
  errorText,
  field,
  formFields,
  h,
  input,
  loading,
  notice,
  showFieldErrors,
} from '../dom.ts';
import { formatLimit, formatUse, UNITS, type Unit } from '../format.ts';
import { quotaFormToBody } from '../forms.ts';
import type { Session, Tenant, Usage } from '../types.ts';
import { gpuHours, inUse, periodRange } from '../usage.ts';
import type { SectionCtx } from './shell.ts';

export function quotasSection(el: HTMLElement, ctx: SectionCtx) {
  const slug = ctx.tenant!.slug;
  const status = notice();
  const body = h('div', {}, loading('quotas'));
  el.append(status.el, body);

  const meter = (label: string, used: number, limit: number | null, unit: Unit) => {
    const use = formatUse(used, limit, unit);
    return h(
      'div',
      { class: 'meter-row', 'data-quota': label },
      h('div', { class: 'meter-label' }, label),
      h('div', { class: 'meter-value' }, use),
      // 0 is a limit (nothing may run); only null is none
      limit !== null
        ? h('meter', {
            min: 0,
            max: limit,
            value: Math.min(used, limit),
            low: limit * 0.7,
            high: limit * 0.9,
            optimum: 0,
            'aria-label': `${label}: ${use}`,
          })
        : h('span', { class: 'muted' }, 'no limit'),
      limit !== null && used >= limit ? h('span', { class: 'tag warn' }, 'at limit') : null,
    );
  };

  async function load() {
    try {
      const month = periodRange('this-month', new Date());
      const [tenant, active, usage] = await Promise.all([
        api.get<Tenant>(tenantPath(slug)),
        listAll<Session>(tenantPath(slug, '/sessions'), { state: 'active' }),
        api.get<Usage>(tenantPath(slug, '/usage'), month).catch(() => null),
      ]);
      const use = inUse(active);
      const q = tenant.quotas;
      const usageBlock = h(
        'div',
        { class: 'meters' },
        meter('Concurrent sessions', use.sessions, q.maxSessions, UNITS.sessions),
        meter('GPUs in use', use.gpus, q.maxGpus, UNITS.gpus),
        usage
          ? meter(
              'GPU-hours this month',
              Math.round(gpuHours(usage.totals.gpuSeconds) * 10) / 10,
              q.gpuHoursPerMonth,
              UNITS.gpuHours,
            )
          : h('p', { class: 'muted' }, 'GPU-hours this month are unavailable.'),
      );
      body.replaceChildren(usageBlock, editor(tenant));
    } catch (err) {
      body.replaceChildren(h('p', { class: 'notice error', role: 'alert' }, errorText(err)));
    }
  }

  function editor(tenant: Tenant) {
    const q = tenant.quotas;
    if (ctx.me.role !== 'platform-admin') {
      return h(
        'div',
        { class: 'readonly-quotas' },
        h('h2', {}, 'Limits'),
        h(
          'dl',
          {},
          h('dt', {}, 'Concurrent sessions'),
          h('dd', {}, formatLimit(q.maxSessions, UNITS.sessions)),
          h('dt', {}, 'GPUs at once'),
          h('dd', {}, formatLimit(q.maxGpus, UNITS.gpus)),
          h('dt', {}, 'GPU-hours per month'),
          h('dd', {}, formatLimit(q.gpuHoursPerMonth, UNITS.gpuHours)),
        ),
        h(
          'p',
          { class: 'muted' },
          'The platform operator sets your organization’s limits; ask them to change one. You set each user’s own limits under Users.',
        ),
      );
    }
    const value = (n: number | null) => (n === null ? '' : String(n));
    const num = (name: string, v: number | null) =>
      input(name, {
        type: 'number',
        min: 0,
        inputmode: 'numeric',
        value: value(v),
        placeholder: 'no limit',
      });
    const form = h(
      'form',
      { class: 'stack-form', novalidate: true, 'aria-label': 'Tenant quotas' },
      h(
        'fieldset',
        { class: 'grid' },
        h('legend', {}, 'Limits (empty: no limit)'),
        field('Concurrent sessions', num('maxSessions', q.maxSessions)),
        field('GPUs at once', num('maxGpus', q.maxGpus)),
        field('GPU-hours per month', num('gpuHoursPerMonth', q.gpuHoursPerMonth)),
      ),
      h(
        'div',
        { class: 'form-actions' },
        h('button', { type: 'submit', class: 'primary' }, 'Save limits'),
      ),
    );
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const checked = quotaFormToBody(formFields(form));
      showFieldErrors(form, checked.ok ? {} : checked.errors);
      if (!checked.ok) return;
      try {
        await api.patch<Tenant>(tenantPath(slug), { quotas: checked.body });
        status.ok('Saved the limits.');
        await load();
      } catch (err) {
        status.error(err);
      }
    });
    return form;
  }

  load();
  return undefined;
}
