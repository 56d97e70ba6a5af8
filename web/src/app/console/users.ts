/**
 * Users: who belongs to the tenant, their role and their own limits (sessions and GPUs at
 * once, under the tenant's); add by email, change role or limits, remove.
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
  select,
  showFieldErrors,
  table,
} from '../dom.ts';
import { formatDate, formatLimit, UNITS } from '../format.ts';
import { gpusPerSkuText, userFormToBody, userLimitsFormToBody } from '../forms.ts';
import type { User, UserLimits } from '../types.ts';
import type { SectionCtx } from './shell.ts';

const ROLES: [string, string][] = [
  ['member', 'Member'],
  ['tenant-admin', 'Admin'],
];

export function usersSection(el: HTMLElement, ctx: SectionCtx) {
  const base = tenantPath(ctx.tenant!.slug, '/users');
  const status = notice();
  const list = h('div', { class: 'list' }, loading('users'));

  const form = h(
    'form',
    { class: 'inline-form', 'aria-label': 'Add a user', novalidate: true },
    field(
      'Email',
      input('email', {
        type: 'email',
        autocomplete: 'off',
        required: true,
        placeholder: 'name@example.com',
      }),
    ),
    field('Role', select('role', ROLES, 'member')),
    h('button', { type: 'submit', class: 'primary' }, 'Add user'),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const checked = userFormToBody(formFields(form));
    showFieldErrors(form, checked.ok ? {} : checked.errors);
    if (!checked.ok) return;
    try {
      const user = await api.post<User>(base, checked.body);
      form.reset();
      status.ok(`Added ${user.email}.`);
      await load();
    } catch (err) {
      status.error(err);
    }
  });

  function userRow(user: User) {
    const own = user.id === ctx.me.user?.id;
    const role = select('role', ROLES, user.role, {
      'aria-label': `Role of ${user.email}`,
      disabled: own,
    });
    role.addEventListener('change', async () => {
      try {
        await api.patch<User>(`${base}/${encodeURIComponent(user.id)}`, { role: role.value });
        status.ok(
          `${user.email} is now ${role.value === 'tenant-admin' ? 'an admin' : 'a member'}.`,
        );
      } catch (err) {
        role.value = user.role;
        status.error(err);
      }
    });
    const remove = own
      ? h('span', { class: 'muted' }, 'you')
      : confirmButton('Remove', `Remove ${user.email}?`, async () => {
          try {
            await api.del(`${base}/${encodeURIComponent(user.id)}`);
            status.ok(`Removed ${user.email}.`);
            await load();
          } catch (err) {
            status.error(err);
          }
        });
    const edit = h(
      'button',
      {
        type: 'button',
        'aria-label': `Edit the limits of ${user.email}`,
        'aria-expanded': 'false',
      },
      'Edit limits',
    );
    const tr = row(
      user.email,
      role,
      formatLimit(user.limits.maxSessions, UNITS.sessions),
      gpuLimitsText(user.limits),
      formatDate(user.createdAt),
      h('div', { class: 'form-actions' }, edit, remove),
    );
    tr.dataset.user = user.email;
    edit.addEventListener('click', () => {
      const open = tr.nextElementSibling?.classList.contains('limits-editor');
      if (open) tr.nextElementSibling!.remove();
      else tr.after(limitsEditor(user, edit));
      edit.setAttribute('aria-expanded', String(!open));
    });
    return tr;
  }

  /** The row under a user's that edits their limits; empty fields mean no limit. */
  function limitsEditor(user: User, toggle: HTMLButtonElement) {
    const value = (n: number | null) => (n === null ? '' : String(n));
    const num = (name: 'maxSessions' | 'maxGpus') =>
      input(name, {
        type: 'number',
        min: 0,
        inputmode: 'numeric',
        value: value(user.limits[name]),
        placeholder: 'no limit',
      });
    const close = () => {
      editor.remove();
      toggle.setAttribute('aria-expanded', 'false');
      toggle.focus();
    };
    const form = h(
      'form',
      { class: 'inline-form', novalidate: true, 'aria-label': `Limits of ${user.email}` },
      field('Sessions at once', num('maxSessions'), 'Empty: no limit. 0: none.'),
      field('GPUs at once', num('maxGpus'), 'Empty: no limit. 0: no GPU apps.'),
      field(
        'GPUs at once, per type',
        input('maxGpusPerSku', {
          value: gpusPerSkuText(user.limits.maxGpusPerSku ?? {}),
          placeholder: 'e.g. l4: 2',
        }),
        'Empty: no per-type limit.',
      ),
      h('button', { type: 'submit', class: 'primary' }, 'Save limits'),
      h('button', { type: 'button', onclick: close }, 'Cancel'),
    );
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const checked = userLimitsFormToBody(formFields(form));
      showFieldErrors(form, checked.ok ? {} : checked.errors);
      if (!checked.ok) return;
      try {
        const saved = await api.patch<User>(`${base}/${encodeURIComponent(user.id)}`, {
          limits: checked.body,
        });
        status.ok(`Saved the limits of ${saved.email}.`);
        await load();
      } catch (err) {
        status.error(err);
      }
    });
    const editor = h(
      'tr',
      { class: 'limits-editor', 'data-limits-of': user.email },
      h(
        'td',
        { colspan: 6 },
        h(
          'p',
          { class: 'hint' },
          `${user.email}’s own limits, within your organization’s (see Quotas & use).`,
        ),
        form,
      ),
    );
    queueMicrotask(() => form.querySelector('input')?.focus());
    return editor;
  }

  async function load() {
    try {
      const users = await listAll<User>(base);
      users.sort((a, b) => a.email.localeCompare(b.email));
      list.replaceChildren(
        users.length === 0
          ? empty('No users yet. Add the first one above.')
          : table(
              'Users',
              ['Email', 'Role', 'Sessions at once', 'GPUs at once', 'Added', ''],
              users.map(userRow),
            ),
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
      'Add people by email and choose what they may do: members launch apps, admins also manage this console. Each user may also have their own limits on sessions and GPUs at once.',
    ),
    form,
    status.el,
    list,
  );
  load();
  return undefined;
}

/** A user's GPU limits in words: the total, and any per-type limit after it. */
function gpuLimitsText(limits: UserLimits): string {
  const perSku = gpusPerSkuText(limits.maxGpusPerSku ?? {});
  const total = formatLimit(limits.maxGpus, UNITS.gpus);
  return perSku ? `${total} (${perSku})` : total;
}
