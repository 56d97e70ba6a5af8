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
  select,
  showFieldErrors,
} from '../dom.ts';
import { formatLimit, formatUse, UNITS, type Unit } from '../format.ts';
import { gpusPerSkuText, quotaFormToBody, skuQuotaFormToBody } from '../forms.ts';
import type {
  GpuHoursExceededAction,
  QuotaEvent,
  Session,
  Tenant,
  TenantQuotas,
  Usage,
} from '../types.ts';
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
      const [tenant, active, usage, events] = await Promise.all([
        api.get<Tenant>(tenantPath(slug)),
        listAll<Session>(tenantPath(slug, '/sessions'), { state: 'active' }),
        api.get<Usage>(tenantPath(slug, '/usage'), month).catch(() => null),
        api
          .get<{ items: QuotaEvent[] }>(tenantPath(slug, '/quota-events'), month)
          .catch(() => null),
      ]);
      const use = inUse(active);
      const q = tenant.quotas;
      const usageBlock = h(
        'div',
        { class: 'meters' },
        meter('Concurrent sessions', use.sessions, q.maxSessions, UNITS.sessions),
        meter('GPUs in use', use.gpus, q.maxGpus, UNITS.gpus),
        ...skuMeters(active, q, meter),
        usage
          ? meter(
              'GPU-hours this month',
              Math.round(gpuHours(usage.totals.gpuSeconds) * 10) / 10,
              q.gpuHoursPerMonth,
              UNITS.gpuHours,
            )
          : h('p', { class: 'muted' }, 'GPU-hours this month are unavailable.'),
      );
      body.replaceChildren(gpuHoursNotice(events?.items ?? [], q), usageBlock, editor(tenant));
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
          ...skuLimitsReadonly(q),
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
        ...skuLimitFields(q),
      ),
      h(
        'div',
        { class: 'form-actions' },
        h('button', { type: 'submit', class: 'primary' }, 'Save limits'),
      ),
    );
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const fields = formFields(form);
      const checked = quotaFormToBody(fields);
      const perSku = skuQuotaFormToBody(fields);
      showFieldErrors(form, {
        ...(checked.ok ? {} : checked.errors),
        ...(perSku.ok ? {} : perSku.errors),
      });
      if (!checked.ok || !perSku.ok) return;
      try {
        await api.patch<Tenant>(tenantPath(slug), { quotas: { ...checked.body, ...perSku.body } });
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

const ACTIONS: [GpuHoursExceededAction, string][] = [
  ['refuse', 'Refuse new GPU launches'],
  ['stop', 'Also stop running GPU sessions'],
];

/** A meter per GPU type the tenant limits, beside the total. */
function skuMeters(
  active: readonly Pick<Session, 'gpus'>[],
  q: TenantQuotas,
  meter: (label: string, used: number, limit: number | null, unit: Unit) => HTMLElement,
): HTMLElement[] {
  return Object.entries(q.maxGpusPerSku ?? {}).map(([sku, limit]) => {
    const used = active.reduce((n, s) => n + (s.gpus?.sku === sku ? s.gpus.count : 0), 0);
    return meter(`${sku} GPUs in use`, used, limit, UNITS.gpus);
  });
}

/** The per-type GPU limits and the GPU-hours action, as read-only terms. */
function skuLimitsReadonly(q: TenantQuotas): HTMLElement[] {
  const perSku = gpusPerSkuText(q.maxGpusPerSku ?? {});
  const action =
    ACTIONS.find(([a]) => a === q.gpuHoursExceededAction)?.[1] ?? 'Refuse new GPU launches';
  return [
    h('dt', {}, 'GPUs at once, per type'),
    h('dd', {}, perSku || 'no per-type limit'),
    h('dt', {}, 'When the GPU-hours are used up'),
    h('dd', {}, action),
  ];
}

/** The per-type GPU limits and the GPU-hours action, as form fields. */
function skuLimitFields(q: TenantQuotas): HTMLElement[] {
  return [
    field(
      'GPUs at once, per type',
      input('maxGpusPerSku', {
        value: gpusPerSkuText(q.maxGpusPerSku ?? {}),
        placeholder: 'e.g. l4: 4, a100: 1',
      }),
      'Empty: no per-type limit. A type not named is limited only by GPUs at once.',
    ),
    field(
      'When the GPU-hours are used up',
      select('gpuHoursExceededAction', ACTIONS, q.gpuHoursExceededAction ?? 'refuse'),
      'A warning is recorded at 90 %.',
    ),
  ];
}

/** This month's GPU-hour events, in words: used up (and what that does), or 90 % reached. */
function gpuHoursNotice(events: readonly QuotaEvent[], q: TenantQuotas): HTMLElement | string {
  const of = (type: QuotaEvent['type']) =>
    events.find((e) => e.type === type && e.quota === 'tenant.gpuHoursPerMonth');
  const exceeded = of('quota.exceeded');
  const warning = of('quota.warning');
  if (!exceeded && !warning) return '';
  const on = (e: QuotaEvent) => new Date(e.at).toISOString().slice(0, 10);
  const text = exceeded
    ? `This month’s GPU-hours were used up on ${on(exceeded)}: new GPU launches are refused${
        q.gpuHoursExceededAction === 'stop' ? ' and running GPU sessions are stopped' : ''
      } until the 1st.`
    : `90 % of this month’s GPU-hours were used on ${on(warning!)}.`;
  return h(
    'p',
    { class: `notice ${exceeded ? 'error' : 'warn'} quota-events`, role: 'status' },
    text,
  );
}
