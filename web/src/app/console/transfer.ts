/**
 * Files & clipboard: the tenant's data-loss prevention switches and size limits, and each
 * app's, which can only narrow the tenant's (docs/files.md). Enforced by every session's
 * streamer from its next launch.
 */
import { api, listAll, tenantPath } from '../api.ts';
import { field, formFields, h, input, loading, notice, select, showFieldErrors } from '../dom.ts';
import { mibOf, transferFormToBody } from '../forms.ts';
import type { App, TransferPolicy } from '../types.ts';
import type { SectionCtx } from './shell.ts';

const TENANT = '';

export function transferSection(el: HTMLElement, ctx: SectionCtx) {
  const slug = ctx.tenant!.slug;
  const status = notice();
  const body = h('div', {}, loading('the policy'));
  const pathOf = (app: string) =>
    tenantPath(slug, app === TENANT ? '/transfer-policy' : `/apps/${app}/transfer-policy`);
  el.append(
    h(
      'p',
      { class: 'lead' },
      'Whether people may copy text and move files in and out of their sessions, and how large files may be. Each session’s streamer enforces it from its next launch; an app’s policy only narrows the tenant’s.',
    ),
    status.el,
    body,
  );

  function render(apps: App[], target: string, policy: TransferPolicy) {
    const which = select(
      'target',
      [[TENANT, 'The whole tenant'], ...apps.map((a): [string, string] => [a.slug, a.name])],
      target,
    );
    which.addEventListener('change', () => void show(apps, which.value));
    const check = (name: string, on: boolean, label: string) =>
      h(
        'label',
        { class: 'check' },
        h('input', { type: 'checkbox', name, checked: on }),
        ` ${label}`,
      );
    const form = h(
      'form',
      { class: 'stack-form', novalidate: true, 'aria-label': 'Files and clipboard' },
      field('Applies to', which),
      check('clipboard', policy.clipboard, 'Clipboard between the browser and the session'),
      check('files', policy.files, 'File upload and download'),
      field(
        'Largest file (MiB)',
        input('maxFileMiB', { inputmode: 'decimal', value: mibOf(policy.maxFileBytes) }),
        'Either way; empty for no limit.',
      ),
      field(
        'Most a home may hold (MiB)',
        input('maxHomeMiB', { inputmode: 'decimal', value: mibOf(policy.maxHomeBytes) }),
        'An upload that would take the session’s home past it is refused; empty for no limit.',
      ),
      h(
        'div',
        { class: 'form-actions' },
        h('button', { type: 'submit', class: 'primary' }, 'Save'),
      ),
    );
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const checked = transferFormToBody(formFields(form));
      showFieldErrors(form, checked.ok ? {} : checked.errors);
      if (!checked.ok) return;
      try {
        await api.put<TransferPolicy>(pathOf(which.value), checked.body);
        status.ok(
          which.value === TENANT
            ? 'Saved the tenant’s policy.'
            : `Saved the policy of ${apps.find((a) => a.slug === which.value)?.name ?? which.value}.`,
        );
      } catch (err) {
        status.error(err);
      }
    });
    body.replaceChildren(form);
  }

  async function show(apps: App[], target: string) {
    try {
      render(apps, target, await api.get<TransferPolicy>(pathOf(target)));
    } catch (err) {
      status.error(err);
    }
  }

  listAll<App>(tenantPath(slug, '/apps'))
    .then((apps) => show(apps, TENANT))
    .catch((err: unknown) => status.error(err));
  return undefined;
}
