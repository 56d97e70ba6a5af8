/** Identity provider: the tenant's OIDC sign-in (issuer, client, roles claim, host names). */
import { ApiError, api, tenantPath } from '../api.ts';
import {
  confirmButton,
  errorText,
  field,
  formFields,
  h,
  input,
  loading,
  notice,
  showFieldErrors,
} from '../dom.ts';
import { formatDate } from '../format.ts';
import { IDENTITY_DEFAULTS, identityFormToBody } from '../forms.ts';
import type { IdentityProvider } from '../types.ts';
import type { SectionCtx } from './shell.ts';

export function identitySection(el: HTMLElement, ctx: SectionCtx) {
  const path = tenantPath(ctx.tenant!.slug, '/identity-provider');
  const status = notice();
  const body = h('div', {}, loading('the identity provider'));
  el.append(
    h(
      'p',
      { class: 'lead' },
      'Your people sign in with your organization’s OpenID Connect provider. Register Floe there as a web client (authorization code with PKCE), then enter its details here.',
    ),
    status.el,
    body,
  );

  function render(idp: IdentityProvider | null) {
    const hasSecret = idp?.hasClientSecret ?? false;
    const secretHint = hasSecret
      ? 'Stored encrypted and never shown; leave empty to keep it.'
      : 'Stored encrypted and never shown. Empty: a public client, protected by PKCE alone.';
    const form = h(
      'form',
      { class: 'stack-form', novalidate: true, 'aria-label': 'Identity provider' },
      h(
        'p',
        { class: idp ? 'tag ok' : 'tag' },
        idp
          ? `Configured${hasSecret ? ' · client secret stored' : ' · public client'} · changed ${formatDate(idp.updatedAt)}`
          : 'Not configured',
      ),
      field(
        'Issuer URL',
        input('issuer', {
          type: 'url',
          value: idp?.issuer ?? '',
          placeholder: 'https://…',
          required: true,
        }),
      ),
      field('Client ID', input('clientId', { value: idp?.clientId ?? '', required: true })),
      field(
        'Client secret',
        input('clientSecret', {
          type: 'password',
          autocomplete: 'new-password',
          placeholder: hasSecret ? 'unchanged' : '',
        }),
        secretHint,
      ),
      hasSecret
        ? h(
            'label',
            { class: 'check' },
            h('input', { type: 'checkbox', name: 'removeSecret' }),
            ' Remove the stored secret (make it a public client)',
          )
        : null,
      field(
        'Roles claim',
        input('rolesClaim', { value: idp?.rolesClaim ?? IDENTITY_DEFAULTS.rolesClaim }),
        'The ID token claim (a string or a list) that holds the user’s roles.',
      ),
      field(
        'Admin roles',
        input('adminRoles', {
          value: (idp?.adminRoles ?? IDENTITY_DEFAULTS.adminRoles).join(', '),
        }),
        'Values of that claim that make a user an admin of this tenant, separated by commas; everyone else is a member.',
      ),
      field(
        'Host names',
        input('hostnames', { value: idp?.hostnames.join(', ') ?? '' }),
        'Host names that sign in with this provider, e.g. acme.floe.example; separated by commas. Each selects one tenant only.',
      ),
      h(
        'div',
        { class: 'form-actions' },
        h('button', { type: 'submit', class: 'primary' }, 'Save'),
        idp
          ? confirmButton('Remove', 'Remove the provider?', async () => {
              try {
                await api.del(path);
                status.ok('Removed the identity provider; its host names are free.');
                render(null);
              } catch (err) {
                status.error(err);
              }
            })
          : null,
      ),
    );
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const checked = identityFormToBody(formFields(form));
      showFieldErrors(form, checked.ok ? {} : checked.errors);
      if (!checked.ok) return;
      try {
        render(await api.put<IdentityProvider>(path, checked.body));
        status.ok('Saved the identity provider.');
      } catch (err) {
        status.error(err);
      }
    });
    body.replaceChildren(form);
  }

  api
    .get<IdentityProvider>(path)
    .then(render)
    .catch((err: unknown) => {
      if (err instanceof ApiError && err.status === 404) render(null);
      else body.replaceChildren(h('p', { class: 'notice error', role: 'alert' }, errorText(err)));
    });
  return undefined;
}
