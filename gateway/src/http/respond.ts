// The gateway's own answers: JSON errors for APIs, small HTML pages for browsers.
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

export function jsonError(
  c: Context,
  status: ContentfulStatusCode,
  code: string,
  message: string,
  headers: Record<string, string> = {},
) {
  return c.json({ error: { code, message } }, status, { 'cache-control': 'no-store', ...headers });
}

/** Text safe inside HTML elements and attribute values. */
export const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

/** A page with a message and, optionally, one link onwards (both escaped). */
export function page(
  c: Context,
  status: ContentfulStatusCode,
  title: string,
  message: string,
  link?: { href: string; text: string },
) {
  return c.html(
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>` +
      '<meta name="viewport" content="width=device-width, initial-scale=1"></head>' +
      `<body><main><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p>` +
      (link ? `<p><a href="${escapeHtml(link.href)}">${escapeHtml(link.text)}</a></p>` : '') +
      '</main></body></html>',
    status,
    { 'cache-control': 'no-store' },
  );
}
