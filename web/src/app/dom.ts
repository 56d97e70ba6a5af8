/** A tiny element builder and the few widgets every section shares. */
import { ApiError } from './api.ts';
import { initials, safeIcon } from './format.ts';
import { failureSentence, type Reader, sentence } from './words.ts';

type Child = Node | string | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

/**
 * `h('button', {type: 'button', onclick: f}, 'Launch')`: `on*` attributes become listeners,
 * `class`/`for`/`aria-*`/`data-*` and the rest become attributes (false/null/undefined: left out).
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value == null) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else if (name === 'value' && 'value' in el) {
      (el as HTMLInputElement).value = String(value);
    } else {
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child);
  }
  return el;
}

/** Children without the left-out ones, for `append`/`replaceChildren`. */
export const nodes = (...children: Child[]): (Node | string)[] =>
  children.filter((c): c is Node | string => c !== null && c !== undefined && c !== false);

/**
 * An app's icon, or its initials when it has none, its URL is unsafe, or it fails to load
 * (a content security policy may refuse other origins' images).
 */
export function appIcon(name: string, icon: string | null, className: string, size: number) {
  const letters = () =>
    h('span', { class: `${className} initials`, 'aria-hidden': 'true' }, initials(name));
  const src = safeIcon(icon);
  if (!src) return letters();
  const img = h('img', {
    class: className,
    src,
    alt: '',
    width: size,
    height: size,
    decoding: 'async',
    referrerpolicy: 'no-referrer',
  });
  img.addEventListener('error', () => img.replaceWith(letters()), { once: true });
  return img;
}

/** What to say about any thrown value; `reader` decides what a refusal tells them to do. */
export function errorText(err: unknown, reader?: Reader): string {
  if (err instanceof ApiError) return failureSentence(err, reader);
  return sentence(err instanceof Error ? err.message : String(err));
}

/** A spot for "Saved." / errors, read out by screen readers. */
export function notice() {
  const el = h('p', { class: 'notice', role: 'status', 'aria-live': 'polite' });
  return {
    el,
    ok(message: string) {
      el.className = 'notice ok';
      el.textContent = message;
    },
    error(err: unknown) {
      el.className = 'notice error';
      el.textContent = errorText(err);
    },
    clear() {
      el.className = 'notice';
      el.textContent = '';
    },
  };
}

export const loading = (what: string) =>
  h('p', { class: 'loading', role: 'status', 'aria-live': 'polite' }, `Loading ${what}…`);

export const empty = (message: string) => h('p', { class: 'empty' }, message);

/** A labelled form field; `hint` is tied to the input with aria-describedby. */
export function field(
  label: string,
  input: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement,
  hint?: string,
): HTMLElement {
  const id = input.id || `f-${input.name}-${Math.random().toString(36).slice(2, 8)}`;
  input.id = id;
  const hintEl = hint ? h('small', { id: `${id}-hint`, class: 'hint' }, hint) : null;
  const errorEl = h('small', { id: `${id}-error`, class: 'field-error', hidden: true });
  input.setAttribute('aria-describedby', [hintEl?.id, errorEl.id].filter(Boolean).join(' '));
  // an error goes once the field is edited; the next submit checks again
  input.addEventListener('input', () => {
    errorEl.hidden = true;
    input.removeAttribute('aria-invalid');
  });
  return h(
    'div',
    { class: 'field', 'data-field': input.name },
    h('label', { for: id }, label),
    input,
    hintEl,
    errorEl,
  );
}

/** Shows per-field errors beside their inputs (and clears the others); focuses the first. */
export function showFieldErrors(form: HTMLFormElement, errors: Record<string, string>): void {
  let first: HTMLElement | null = null;
  for (const wrap of form.querySelectorAll<HTMLElement>('.field[data-field]')) {
    const name = wrap.dataset.field ?? '';
    const input = wrap.querySelector<HTMLElement>('input, select, textarea');
    const out = wrap.querySelector<HTMLElement>('.field-error');
    const message = errors[name];
    if (out) {
      out.textContent = message ?? '';
      out.hidden = !message;
    }
    if (message) input?.setAttribute('aria-invalid', 'true');
    else input?.removeAttribute('aria-invalid');
    if (message && !first) first = input ?? null;
  }
  (first as HTMLElement | null)?.focus();
}

/** A form's fields as strings. */
export function formFields(form: HTMLFormElement): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of new FormData(form)) if (typeof v === 'string') out[k] = v;
  return out;
}

export const input = (name: string, attrs: Attrs = {}) =>
  h('input', { name, type: 'text', autocomplete: 'off', ...attrs });

export function select(
  name: string,
  options: [value: string, label: string][],
  selected: string,
  attrs: Attrs = {},
) {
  return h(
    'select',
    { name, ...attrs },
    options.map(([value, label]) => h('option', { value, selected: value === selected }, label)),
  );
}

/**
 * A destructive button that asks once: the first press turns it into "Confirm …" for a few
 * seconds, the second does it. No modal dialog, and the keyboard works the same way.
 */
export function confirmButton(label: string, confirmLabel: string, action: () => Promise<void>) {
  const button = h('button', { type: 'button', class: 'danger' }, label);
  let armed: ReturnType<typeof setTimeout> | undefined;
  const disarm = () => {
    clearTimeout(armed);
    armed = undefined;
    button.textContent = label;
    button.classList.remove('armed');
  };
  button.addEventListener('click', async () => {
    if (!armed) {
      button.textContent = confirmLabel;
      button.classList.add('armed');
      armed = setTimeout(disarm, 4000);
      return;
    }
    disarm();
    button.disabled = true;
    try {
      await action();
    } finally {
      button.disabled = false;
    }
  });
  button.addEventListener('blur', disarm);
  return button;
}

/** A table with a caption (for screen readers), column headers and rows. */
export function table(caption: string, headers: string[], rows: HTMLTableRowElement[]) {
  return h(
    'table',
    {},
    h('caption', { class: 'visually-hidden' }, caption),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        headers.map((t) => h('th', { scope: 'col' }, t)),
      ),
    ),
    h('tbody', {}, rows),
  );
}

export const row = (...cells: (Child | Child[])[]) =>
  h(
    'tr',
    {},
    cells.map((c) => h('td', {}, ...(Array.isArray(c) ? c : [c]))),
  );

/**
 * Shows a secret the server gives out once (an API key's token, a webhook's signing secret)
 * in `box`, with Copy and Done; Done empties the box, so the secret leaves the page.
 */
export function showSecretOnce(
  box: HTMLElement,
  opts: { title: string; hint: string; value: string; label: string },
) {
  const field = h('input', {
    class: 'token',
    readonly: true,
    value: opts.value,
    'aria-label': opts.label,
    spellcheck: 'false',
  });
  const copy = h('button', { type: 'button' }, 'Copy');
  copy.addEventListener('click', async () => {
    field.select();
    try {
      await navigator.clipboard.writeText(opts.value);
      copy.textContent = 'Copied';
    } catch {
      copy.textContent = 'Press Ctrl+C';
    }
  });
  const done = () => {
    box.hidden = true;
    box.replaceChildren();
  };
  box.replaceChildren(
    h('p', { role: 'alert' }, h('strong', {}, opts.title), ` ${opts.hint}`),
    h(
      'div',
      { class: 'token-row' },
      field,
      copy,
      h('button', { type: 'button', onclick: done }, 'Done'),
    ),
  );
  box.hidden = false;
  field.focus();
  field.select();
}
