/**
 * Webhooks: endpoints with their event types, the signing secret shown once, each endpoint's
 * delivery log with redelivery, and why Floe disabled an endpoint (sustained failure).
 */
import { api, listAll, tenantPath } from '../api.ts';
import {
  confirmButton,
  empty,
  field,
  formFields,
  h,
  input,
  loading,
  notice,
  row,
  showFieldErrors,
  showSecretOnce,
  table,
} from '../dom.ts';
import { formatDate } from '../format.ts';
import type { WebhookDelivery, WebhookEndpoint, WebhookEndpointCreated } from '../types.ts';
import type { SectionCtx } from './shell.ts';

const EVENT_CHOICES: [string, string][] = [
  ['session.*', 'Session transitions (session.*)'],
  ['quota.warning', 'Quota warning'],
  ['quota.exceeded', 'Quota exceeded'],
  ['billing.period.closed', 'Billing period closed'],
  ['audit.*', 'Audit log entries (audit.*)'],
];

/** The form's choices as the API's body, or the errors to show per field. */
export function webhookFormToBody(
  fields: Record<string, string>,
  checked: string[],
):
  | { ok: true; body: { url: string; description: string; eventTypes: string[] } }
  | { ok: false; errors: Record<string, string> } {
  const errors: Record<string, string> = {};
  const url = (fields.url ?? '').trim();
  if (!/^https?:\/\/\S+$/.test(url)) errors.url = 'An https:// URL.';
  if (checked.length === 0) errors.events = 'Choose at least one kind of event.';
  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return {
    ok: true,
    body: { url, description: (fields.description ?? '').trim(), eventTypes: checked },
  };
}

export function webhooksSection(el: HTMLElement, ctx: SectionCtx) {
  const slug = ctx.tenant!.slug;
  const base = tenantPath(slug, '/webhooks');
  const status = notice();
  const created = h('div', { class: 'token-box', hidden: true });
  const list = h('div', { class: 'list' }, loading('webhooks'));
  const deliveries = h('div', { class: 'list deliveries' });

  const boxes = EVENT_CHOICES.map(([value, label]) =>
    h(
      'label',
      { class: 'check' },
      h('input', { type: 'checkbox', name: 'eventTypes', value }),
      ` ${label}`,
    ),
  );
  const events = h(
    'fieldset',
    { class: 'field', 'data-field': 'events' },
    h('legend', {}, 'Events'),
    boxes,
    h('small', { class: 'field-error', hidden: true }),
  );
  const form = h(
    'form',
    { class: 'inline-form', novalidate: true, 'aria-label': 'Add a webhook endpoint' },
    field('URL', input('url', { required: true, placeholder: 'https://… (your receiver)' })),
    field('Description', input('description', { placeholder: 'optional' })),
    events,
    h('button', { type: 'submit', class: 'primary' }, 'Add endpoint'),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const checked = [
      ...form.querySelectorAll<HTMLInputElement>('input[name=eventTypes]:checked'),
    ].map((b) => b.value);
    const result = webhookFormToBody(formFields(form), checked);
    showFieldErrors(form, result.ok ? {} : result.errors);
    if (!result.ok) return;
    try {
      const hook = await api.post<WebhookEndpointCreated>(base, result.body);
      form.reset();
      status.clear();
      showSecretOnce(created, {
        title: 'Endpoint added.',
        hint: 'Its signing secret is shown now only; verify deliveries with it (Standard Webhooks).',
        value: hook.secret,
        label: 'Signing secret',
      });
      await load();
    } catch (err) {
      status.error(err);
    }
  });

  async function showDeliveries(hook: WebhookEndpoint) {
    deliveries.replaceChildren(loading('deliveries'));
    try {
      const items = await listAll<WebhookDelivery>(`${base}/${hook.id}/deliveries`, {}, 1);
      const redeliver = (d: WebhookDelivery) =>
        h(
          'button',
          {
            type: 'button',
            onclick: async () => {
              try {
                await api.post(`${base}/${hook.id}/deliveries/${d.id}/redeliver`, {});
                status.ok(`Queued ${d.eventType} again.`);
                await showDeliveries(hook);
              } catch (err) {
                status.error(err);
              }
            },
          },
          'Redeliver',
        );
      deliveries.replaceChildren(
        h('h2', {}, `Deliveries to ${hook.url}`),
        items.length === 0
          ? empty('Nothing sent yet.')
          : table(
              'Deliveries',
              ['Event', 'State', 'Attempts', 'Last answer', 'Created', ''],
              items.map((d) => {
                const tr = row(
                  h('code', {}, d.eventType),
                  d.state === 'pending' && d.nextAttemptAt
                    ? `pending (next ${formatDate(d.nextAttemptAt)})`
                    : d.state,
                  String(d.attempts),
                  d.lastError ?? (d.lastStatus ? `HTTP ${d.lastStatus}` : '—'),
                  formatDate(d.createdAt),
                  redeliver(d),
                );
                tr.dataset.delivery = d.id;
                return tr;
              }),
            ),
      );
    } catch (err) {
      deliveries.replaceChildren();
      status.error(err);
    }
  }

  const hookRow = (hook: WebhookEndpoint) => {
    const state = hook.enabled
      ? hook.consecutiveFailures > 0
        ? `failing since ${formatDate(hook.failingSince)}`
        : 'enabled'
      : hook.disabledReason
        ? h(
            'span',
            { class: 'disabled-reason', role: 'note' },
            `Disabled by Floe: ${hook.disabledReason}`,
          )
        : 'disabled';
    const toggle = h(
      'button',
      {
        type: 'button',
        onclick: async () => {
          try {
            await api.patch(`${base}/${hook.id}`, { enabled: !hook.enabled });
            status.ok(hook.enabled ? 'Endpoint disabled.' : 'Endpoint enabled.');
            await load();
          } catch (err) {
            status.error(err);
          }
        },
      },
      hook.enabled ? 'Disable' : 'Enable',
    );
    const tr = row(h('code', {}, hook.url), hook.eventTypes.join(', '), state, [
      h('button', { type: 'button', onclick: () => void showDeliveries(hook) }, 'Deliveries'),
      ' ',
      toggle,
      ' ',
      confirmButton('Remove', `Remove ${hook.url}?`, async () => {
        try {
          await api.del(`${base}/${hook.id}`);
          status.ok('Endpoint removed.');
          deliveries.replaceChildren();
          await load();
        } catch (err) {
          status.error(err);
        }
      }),
    ]);
    tr.dataset.webhook = hook.id;
    return tr;
  };

  async function load() {
    try {
      const hooks = await listAll<WebhookEndpoint>(base);
      list.replaceChildren(
        hooks.length === 0
          ? empty('No webhook endpoints yet.')
          : table('Webhook endpoints', ['URL', 'Events', 'State', ''], hooks.map(hookRow)),
      );
    } catch (err) {
      list.replaceChildren();
      status.error(err);
    }
  }

  el.append(
    h(
      'p',
      { class: 'lead' },
      'Tell your own systems when sessions start, stop or fail, and when quotas run low. Deliveries are signed per Standard Webhooks and retried for 24 hours.',
    ),
    form,
    created,
    status.el,
    list,
    deliveries,
  );
  void load();
  return undefined;
}
