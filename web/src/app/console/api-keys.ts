/** API keys: list, create (the token is shown once), revoke. */
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
  showSecretOnce,
  table,
} from '../dom.ts';
import { formatDate, roleLabel } from '../format.ts';
import { apiKeyFormToBody } from '../forms.ts';
import type { ApiKey, ApiKeyCreated, User } from '../types.ts';
import type { SectionCtx } from './shell.ts';

export function apiKeysSection(el: HTMLElement, ctx: SectionCtx) {
  const slug = ctx.tenant!.slug;
  const base = tenantPath(slug, '/api-keys');
  const status = notice();
  const created = h('div', { class: 'token-box', hidden: true });
  const list = h('div', { class: 'list' }, loading('API keys'));
  let emails = new Map<string, string>();

  const form = h(
    'form',
    { class: 'inline-form', novalidate: true, 'aria-label': 'Create an API key' },
    field('Name', input('name', { required: true, placeholder: 'ci-pipeline' })),
    field(
      'Role',
      select(
        'role',
        [
          ['member', 'Member'],
          ['tenant-admin', 'Admin'],
        ],
        'member',
      ),
    ),
    field('Acts as user', input('user', { type: 'email', placeholder: 'email (for member keys)' })),
    field(
      'Expires in (days)',
      input('expiresInDays', {
        type: 'number',
        min: 1,
        inputmode: 'numeric',
        placeholder: 'never',
      }),
    ),
    h('button', { type: 'submit', class: 'primary' }, 'Create key'),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const checked = apiKeyFormToBody(formFields(form), new Date());
    showFieldErrors(form, checked.ok ? {} : checked.errors);
    if (!checked.ok) return;
    try {
      const key = await api.post<ApiKeyCreated>(base, checked.body);
      form.reset();
      status.clear();
      showToken(key);
      await load();
    } catch (err) {
      status.error(err);
    }
  });

  function showToken(key: ApiKeyCreated) {
    showSecretOnce(created, {
      title: `Key “${key.name}” created.`,
      hint: 'Copy its token now: it is not shown again.',
      value: key.token,
      label: `Token of ${key.name}`,
    });
  }

  const keyRow = (key: ApiKey) => {
    const state = key.revokedAt
      ? `revoked ${formatDate(key.revokedAt)}`
      : key.expiresAt && Date.parse(key.expiresAt) <= Date.now()
        ? 'expired'
        : 'active';
    const tr = row(
      key.name,
      h('code', {}, `${key.prefix}…`),
      roleLabel(key.role),
      key.userId ? (emails.get(key.userId) ?? key.userId.slice(0, 8)) : '—',
      formatDate(key.createdAt),
      key.expiresAt ? formatDate(key.expiresAt) : 'never',
      state,
      state === 'active'
        ? confirmButton('Revoke', `Revoke ${key.name}?`, async () => {
            try {
              await api.del(`${base}/${encodeURIComponent(key.id)}`);
              status.ok(`Revoked ${key.name}.`);
              await load();
            } catch (err) {
              status.error(err);
            }
          })
        : '',
    );
    tr.dataset.key = key.id;
    return tr;
  };

  async function load() {
    try {
      const [keys, users] = await Promise.all([
        listAll<ApiKey>(base),
        listAll<User>(tenantPath(slug, '/users')).catch(() => [] as User[]),
      ]);
      emails = new Map(users.map((u) => [u.id, u.email]));
      list.replaceChildren(
        keys.length === 0
          ? empty('No API keys yet.')
          : table(
              'API keys',
              ['Name', 'Token', 'Role', 'User', 'Created', 'Expires', 'State', ''],
              keys.map(keyRow),
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
      'Keys let programs use the provisioning API as a member or an admin of this tenant.',
    ),
    form,
    created,
    status.el,
    list,
  );
  load();
  return undefined;
}
