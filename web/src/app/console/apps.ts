/** Apps: the tenant's catalog; create, edit and remove apps. */
import { api, listAll, tenantPath } from '../api.ts';
import {
  appIcon,
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
  table,
} from '../dom.ts';
import { gpuBadge } from '../format.ts';
import {
  type APP_FIELDS,
  type AppBody,
  appFormToBody,
  appToFields,
  joinCommand,
} from '../forms.ts';
import type { App } from '../types.ts';
import type { SectionCtx } from './shell.ts';

export function appsSection(el: HTMLElement, ctx: SectionCtx) {
  const base = tenantPath(ctx.tenant!.slug, '/apps');
  if (ctx.item) {
    appForm(el, ctx, base, ctx.item === 'new' ? null : ctx.item);
    return undefined;
  }
  const status = notice();
  const list = h('div', { class: 'list' }, loading('apps'));
  const flash = sessionStorage.getItem('floe.flash');
  if (flash) {
    sessionStorage.removeItem('floe.flash');
    status.ok(flash);
  }
  el.append(
    h(
      'p',
      { class: 'toolbar-row' },
      h('a', { class: 'button primary', href: ctx.href('apps', 'new') }, 'New app'),
    ),
    status.el,
    list,
  );

  const appRow = (app: App) => {
    const tr = row(
      [
        appIcon(app.name, app.icon, 'row-icon', 24),
        h('a', { href: ctx.href('apps', app.slug) }, app.name),
        h('div', { class: 'muted' }, app.slug),
      ],
      gpuBadge(app.resources.gpus) ?? 'no GPU',
      `${app.resources.cpu} CPU · ${app.resources.memory}`,
      h('code', { class: 'clip' }, app.image ?? (app.command ? joinCommand(app.command) : '')),
      confirmButton('Remove', `Remove ${app.name}?`, async () => {
        try {
          await api.del(`${base}/${encodeURIComponent(app.slug)}`);
          status.ok(`Removed ${app.name}; its sessions and usage are kept.`);
          await load();
        } catch (err) {
          status.error(err);
        }
      }),
    );
    tr.dataset.app = app.slug;
    return tr;
  };

  async function load() {
    try {
      const apps = (await listAll<App>(base)).sort((a, b) => a.name.localeCompare(b.name));
      list.replaceChildren(
        apps.length === 0
          ? empty('No apps yet. Create the first one with “New app”.')
          : table('Apps', ['App', 'GPU', 'Resources', 'Image or command', ''], apps.map(appRow)),
      );
    } catch (err) {
      list.replaceChildren();
      status.error(err);
    }
  }
  load();
  return undefined;
}

const LABELS: Record<(typeof APP_FIELDS)[number], [label: string, hint?: string]> = {
  slug: [
    'Slug',
    'Lowercase letters, digits and dashes; used in URLs and the API. Cannot change later.',
  ],
  name: ['Name'],
  description: ['Description', 'One or two lines shown on the tile.'],
  appClass: [
    'Pricing class',
    'Optional: a rate card can price a class of apps, e.g. workstation. Empty: the default price.',
  ],
  icon: [
    'Icon URL',
    'An https:// URL, a /path on this site, or a data:image/… URI. Empty: initials.',
  ],
  command: [
    'Command',
    'For the local runner: the program and its arguments, separated by spaces; quote an argument that holds spaces.',
  ],
  image: ['Container image', 'For Kubernetes clusters, e.g. registry.example.com/blender:4.2.'],
  cpu: ['CPU', 'Cores, as a Kubernetes quantity: 2, 500m.'],
  memory: ['Memory', 'A Kubernetes quantity: 4Gi.'],
  gpuSku: ['GPU type', 'e.g. l4, a100; needed when GPUs > 0.'],
  gpuCount: ['GPUs', '0 for none.'],
  persistence: ['Home volume size', 'e.g. 10Gi for a persistent home; empty for none.'],
  idleTimeoutMinutes: ['Idle shutdown (minutes)', 'Empty: never.'],
  maxLifetimeMinutes: ['Maximum lifetime (minutes)', 'Empty: no limit.'],
  env: ['Environment', 'One NAME=value per line.'],
};

function appForm(el: HTMLElement, ctx: SectionCtx, base: string, slug: string | null) {
  const status = notice();
  const mode = slug ? 'edit' : 'create';
  const form = h('form', {
    class: 'stack-form',
    novalidate: true,
    'aria-label': slug ? 'Edit app' : 'New app',
  });
  el.append(
    h('p', {}, h('a', { href: ctx.href('apps') }, '← All apps')),
    h('h2', {}, slug ? 'Edit app' : 'New app'),
    status.el,
    form,
  );

  const control = (name: (typeof APP_FIELDS)[number], value: string) => {
    const [label, hint] = LABELS[name];
    const attrs = { value, spellcheck: 'false' };
    const input_ =
      name === 'description' || name === 'env'
        ? h(
            'textarea',
            {
              name,
              rows: name === 'env' ? 4 : 2,
              spellcheck: name === 'description' ? 'true' : 'false',
            },
            value,
          )
        : name === 'gpuCount'
          ? input(name, { ...attrs, type: 'number', min: 0, max: 64, inputmode: 'numeric' })
          : name === 'idleTimeoutMinutes' || name === 'maxLifetimeMinutes'
            ? input(name, { ...attrs, type: 'number', min: 1, inputmode: 'numeric' })
            : input(name, {
                ...attrs,
                readonly: name === 'slug' && mode === 'edit',
                required: name === 'slug' || name === 'name',
                type: name === 'icon' ? 'url' : 'text',
              });
    return field(label, input_, hint);
  };

  const fill = (values: Record<string, string>) => {
    const group = (legend: string, names: (typeof APP_FIELDS)[number][]) =>
      h(
        'fieldset',
        {},
        h('legend', {}, legend),
        names.map((n) => control(n, values[n] ?? '')),
      );
    form.replaceChildren(
      group('About', ['slug', 'name', 'description', 'icon', 'appClass']),
      group('What runs', ['command', 'image', 'env']),
      h(
        'fieldset',
        { class: 'grid' },
        h('legend', {}, 'Resources'),
        (['cpu', 'memory', 'gpuSku', 'gpuCount', 'persistence'] as const).map((n) =>
          control(n, values[n] ?? ''),
        ),
      ),
      h(
        'fieldset',
        { class: 'grid' },
        h('legend', {}, 'Limits'),
        (['idleTimeoutMinutes', 'maxLifetimeMinutes'] as const).map((n) =>
          control(n, values[n] ?? ''),
        ),
      ),
      h(
        'div',
        { class: 'form-actions' },
        h('button', { type: 'submit', class: 'primary' }, slug ? 'Save changes' : 'Create app'),
        h('a', { class: 'button', href: ctx.href('apps') }, 'Cancel'),
      ),
    );
  };

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const checked = appFormToBody(formFields(form), mode);
    showFieldErrors(form, checked.ok ? {} : checked.errors);
    if (!checked.ok) {
      status.error(new Error('Some fields need a look'));
      return;
    }
    const submit = form.querySelector<HTMLButtonElement>('button[type=submit]')!;
    submit.disabled = true;
    try {
      const app = slug
        ? await api.patch<App>(
            `${base}/${encodeURIComponent(slug)}`,
            checked.body satisfies AppBody,
          )
        : await api.post<App>(base, checked.body);
      sessionStorage.setItem('floe.flash', slug ? `Saved ${app.name}.` : `Created ${app.name}.`);
      ctx.navigate(ctx.href('apps'));
    } catch (err) {
      status.error(err);
    } finally {
      submit.disabled = false;
    }
  });

  if (!slug) {
    fill({ cpu: '1', memory: '2Gi', gpuCount: '0' });
    return;
  }
  form.append(loading('the app'));
  api
    .get<App>(`${base}/${encodeURIComponent(slug)}`)
    .then((app) => fill(appToFields(app)))
    .catch((err: unknown) => {
      form.replaceChildren();
      status.error(err);
    });
}
