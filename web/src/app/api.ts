/**
 * The API client of the pages: same-origin `/api/v1`, cookie auth through the gateway, the
 * CSRF token echoed on every state-changing call, and a 401 sending the page to sign in.
 */
import { loginHref, readCookie } from './route.ts';
import { type ErrorBody, isTerminal, type Page, type Session } from './types.ts';
import type { Failure } from './words.ts';

export const API = '/api/v1';
const CSRF_COOKIE = 'floe_csrf';
const CSRF_HEADER = 'x-csrf-token';

/** A refused or failed request; `status` 0 when it never reached the server. */
export class ApiError extends Error implements Failure {
  readonly status: number;
  readonly code: string;
  readonly quota?: string;
  readonly sku?: string;
  readonly limit?: number;
  readonly used?: number;
  readonly retryAfter: number | null;
  constructor(failure: Failure) {
    super(failure.message);
    this.status = failure.status;
    this.code = failure.code;
    if (failure.quota) this.quota = failure.quota;
    if (failure.sku) this.sku = failure.sku;
    if (failure.limit !== undefined) this.limit = failure.limit;
    if (failure.used !== undefined) this.used = failure.used;
    this.retryAfter = failure.retryAfter ?? null;
  }
}

/** The page goes to sign in; what called us never resolves (the page is leaving). */
function signIn(): Promise<never> {
  location.href = loginHref(location.pathname + location.search);
  return new Promise(() => {});
}

type Query = Record<string, string | number | undefined | null>;

export function apiUrl(path: string, query: Query = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v != null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return `${API}${path}${s ? `?${s}` : ''}`;
}

async function request<T>(method: string, path: string, body?: unknown, query?: Query): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET') {
    headers['content-type'] = 'application/json';
    headers[CSRF_HEADER] = readCookie(document.cookie, CSRF_COOKIE) ?? '';
  }
  let res: Response;
  try {
    res = await fetch(apiUrl(path, query), {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError({ status: 0, code: 'network', message: String(err) });
  }
  if (res.status === 401) return signIn();
  if (res.status === 204) return undefined as T;
  const data: unknown = await res.json().catch(() => null);
  if (!res.ok) {
    const error = (data as Partial<ErrorBody> | null)?.error;
    const retry = Number(res.headers.get('retry-after'));
    throw new ApiError({
      status: res.status,
      code: error?.code ?? `http_${res.status}`,
      message: error?.message ?? res.statusText,
      ...quotaOf(error),
      retryAfter: Number.isFinite(retry) && retry > 0 ? retry : null,
    });
  }
  return data as T;
}

/** What a 429's body says of the quota that refused it (fields the server may leave out). */
function quotaOf(error: Partial<ErrorBody['error']> | undefined): Partial<Failure> {
  if (!error?.quota) return {};
  return {
    quota: error.quota,
    ...(typeof error.sku === 'string' && { sku: error.sku }),
    ...(typeof error.limit === 'number' && { limit: error.limit }),
    ...(typeof error.used === 'number' && { used: error.used }),
  };
}

export const api = {
  get: <T>(path: string, query?: Query) => request<T>('GET', path, undefined, query),
  post: <T>(path: string, body: unknown) => request<T>('POST', path, body),
  put: <T>(path: string, body: unknown) => request<T>('PUT', path, body),
  patch: <T>(path: string, body: unknown) => request<T>('PATCH', path, body),
  del: <T = void>(path: string) => request<T>('DELETE', path),
};

/** Every item of a paginated list, following `nextCursor` (up to `maxPages` pages). */
export async function listAll<T>(path: string, query: Query = {}, maxPages = 20): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < maxPages; i++) {
    const page: Page<T> = await api.get<Page<T>>(path, { limit: 500, ...query, cursor });
    items.push(...page.items);
    cursor = page.nextCursor;
    if (!cursor) break;
  }
  return items;
}

export const tenantPath = (slug: string, rest = '') =>
  `/tenants/${encodeURIComponent(slug)}${rest}`;

export interface Watch {
  close(): void;
}

/**
 * Follows a session through the progress stream (SSE: `session` on every change, then `end`).
 * When the stream breaks for good (EventSource gives up on a non-200, e.g. an expired sign-in)
 * the session is read once: a 401 there sends the page to sign in; otherwise it is watched again.
 */
export function watchSession(
  tenant: string,
  id: string,
  onSession: (session: Session) => void,
  retryMs = 2000,
): Watch {
  const path = tenantPath(tenant, `/sessions/${encodeURIComponent(id)}`);
  let source: EventSource | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;
  const open = () => {
    if (closed) return;
    const es = new EventSource(apiUrl(`${path}/progress`));
    source = es;
    es.addEventListener('session', (e) => {
      try {
        onSession(JSON.parse((e as MessageEvent<string>).data) as Session);
      } catch {
        // a malformed event is skipped; the next one carries the whole session again
      }
    });
    es.addEventListener('end', () => {
      es.close();
      closed = true;
    });
    es.addEventListener('error', () => {
      if (es.readyState !== EventSource.CLOSED || closed) return; // the browser retries itself
      api
        .get<Session>(path)
        .then((session) => {
          if (closed) return;
          onSession(session);
          if (!isTerminal(session.state)) timer = setTimeout(open, retryMs);
        })
        .catch(() => {
          if (!closed) timer = setTimeout(open, retryMs * 2);
        });
    });
  };
  open();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      source?.close();
    },
  };
}
