/** Users: who belongs to the tenant, their role; add by email, change role, remove. */
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
import { formatDate } from '../format.ts';
import { userFormToBody } from '../forms.ts';
import type { User } from '../types.ts';
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
    const tr = row(user.email, role, formatDate(user.createdAt), remove);
    tr.dataset.user = user.email;
    return tr;
  }

  async function load() {
    try {
      const users = await listAll<User>(base);
      users.sort((a, b) => a.email.localeCompare(b.email));
      list.replaceChildren(
        users.length === 0
          ? empty('No users yet. Add the first one above.')
          : table('Users', ['Email', 'Role', 'Added', ''], users.map(userRow)),
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
      'Add people by email and choose what they may do: members launch apps, admins also manage this console.',
    ),
    form,
    status.el,
    list,
  );
  load();
  return undefined;
}
