/** Refusals and failures in plain words: what happened and what the reader can do. */
import type { Role } from './types.ts';

/** What a failed request tells us: HTTP status (0: it never reached the server) and body. */
export interface Failure {
  status: number;
  code: string;
  message: string;
  /** `error.quota` of a 429, when the server names it. */
  quota?: string;
  /** `error.sku`, `error.limit` and `error.used` of a 429 (per-SKU quotas name the SKU) */
  sku?: string;
  limit?: number;
  used?: number;
  /** Retry-After of a 503, in seconds. */
  retryAfter?: number | null;
}

/** A phrase as a sentence: capital first letter, final full stop. */
export function sentence(text: string): string {
  const t = text.trim();
  if (!t) return '';
  const capital = t[0]!.toUpperCase() + t.slice(1);
  return /[.!?…]$/.test(capital) ? capital : `${capital}.`;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** A quota's limit and use: the 429's own fields, else read from its message. */
function quotaNumbers(failure: Pick<Failure, 'message' | 'limit' | 'used'>): {
  limit: number | null;
  held: number | null;
} {
  const parsed = quotaNumbersOfMessage(failure.message);
  return {
    limit: typeof failure.limit === 'number' ? failure.limit : parsed.limit,
    held: typeof failure.used === 'number' ? failure.used : parsed.held,
  };
}

/** The numbers in a quota message, e.g. "…allows 2 concurrent sessions (2 active)". */
function quotaNumbersOfMessage(message: string): { limit: number | null; held: number | null } {
  const limit =
    message.match(/allows (\d+)/)?.[1] ?? message.match(/of its (\d+(?:\.\d+)?)/)?.[1] ?? null;
  const held =
    message.match(/\((\d+) (?:active|in use)\)/)?.[1] ?? message.match(/used (\d+(?:\.\d+)?)/)?.[1];
  return { limit: limit === null ? null : Number(limit), held: held == null ? null : Number(held) };
}

/** The quota's name from `error.quota`, or from a message like "quota tenant.maxGpus exceeded". */
export function quotaName(failure: Pick<Failure, 'quota' | 'message'>): string | null {
  return (
    failure.quota ?? failure.message.match(/quota ([\w.]+)(?:\[[\w-]+\])? exceeded/)?.[1] ?? null
  );
}

/**
 * Who reads a refusal: it decides what they are told to do. A tenant's limits are set by the
 * platform operator (PATCH /v1/tenants is platform-admin only); a user's limits by the
 * tenant's admins in the console's Users section.
 */
export type Reader = Role;

/** What the reader can do about a tenant limit, as the end of a sentence. */
function tenantRemedy(reader: Reader): string {
  switch (reader) {
    case 'platform-admin':
      return 'raise the limit in Console → Quotas & use';
    case 'tenant-admin':
      return 'ask the platform operator, who sets your organization’s limits, to raise it (Console → Quotas & use shows them)';
    case 'member':
      return 'ask an admin of your organization about the limit';
  }
}

/** What the reader can do about their own limit, as the end of a sentence. */
function userRemedy(reader: Reader): string {
  return reader === 'member'
    ? 'ask an admin of your organization to raise your limit'
    : 'raise your limit in Console → Users';
}

/** A 429 quota refusal as a sentence naming the limit and what the reader can do about it. */
export function quotaSentence(
  failure: Pick<Failure, 'quota' | 'message' | 'sku' | 'limit' | 'used'>,
  reader: Reader = 'member',
): string {
  const { limit, held } = quotaNumbers(failure);
  const inUse = held === null ? '' : ` and ${held} ${held === 1 ? 'is' : 'are'} in use`;
  const name = quotaName(failure);
  if (name === 'tenant.maxGpusPerSku' || name === 'user.maxGpusPerSku') {
    return skuQuotaSentence(name, skuOf(failure), limit, held, reader);
  }
  switch (name) {
    case 'tenant.maxSessions':
      return limit === null
        ? `Your organization has reached its limit of running sessions. Shut one down, or ${tenantRemedy(reader)}.`
        : `Your organization can run ${plural(limit, 'session')} at once, and all are in use. Shut one down, or ${tenantRemedy(reader)}.`;
    case 'user.maxSessions':
      return limit === null
        ? `You have reached your limit of running sessions. Shut one down to launch another, or ${userRemedy(reader)}.`
        : `You can run ${plural(limit, 'session')} at once. Shut one down to launch another, or ${userRemedy(reader)}.`;
    case 'tenant.maxGpus':
      return limit === null
        ? `Your organization has no GPUs left for this app. Try again when a session ends, or ${tenantRemedy(reader)}.`
        : `Your organization may use ${plural(limit, 'GPU')} at once${inUse}, too few for this app. Try again when a session ends, or ${tenantRemedy(reader)}.`;
    case 'user.maxGpus':
      return limit === null
        ? `This app needs more GPUs than you may use at once. Shut down a GPU session first, or ${userRemedy(reader)}.`
        : `You may use ${plural(limit, 'GPU')} at once${inUse}, too few for this app. Shut down a GPU session first, or ${userRemedy(reader)}.`;
    case 'tenant.gpuHoursPerMonth':
      return limit === null
        ? `Your organization has used all its GPU hours for this month. To launch before the 1st, ${tenantRemedy(reader)}.`
        : `Your organization has used its ${plural(limit, 'GPU hour')} for this month. To launch before the 1st, ${tenantRemedy(reader)}.`;
    default:
      return `A quota stopped this: ${sentence(failure.message.replace(/^quota [\w.]+(?:\[[\w-]+\])? exceeded:\s*/, ''))}`;
  }
}

/** The GPU SKU of a per-SKU refusal: `error.sku`, else the "[l4]" of its message. */
function skuOf(failure: Pick<Failure, 'sku' | 'message'>): string | null {
  return failure.sku ?? failure.message.match(/^quota [\w.]+\[([\w-]+)\] exceeded/)?.[1] ?? null;
}

/** A per-SKU GPU refusal ("at most 4 l4 GPUs at once"), for the organization or the user. */
function skuQuotaSentence(
  name: 'tenant.maxGpusPerSku' | 'user.maxGpusPerSku',
  sku: string | null,
  limit: number | null,
  held: number | null,
  reader: Reader,
): string {
  const gpus = (n: number) => plural(n, sku ? `${sku} GPU` : 'GPU');
  const kind = sku ? `${sku} GPUs` : 'GPUs of this type';
  const inUse = held === null ? '' : ` and ${held} ${held === 1 ? 'is' : 'are'} in use`;
  if (name === 'tenant.maxGpusPerSku') {
    return limit === null
      ? `Your organization has no ${kind} left for this app. Try again when a session ends, or ${tenantRemedy(reader)}.`
      : `Your organization may use ${gpus(limit)} at once${inUse}, too few for this app. Try again when a session ends, or ${tenantRemedy(reader)}.`;
  }
  return limit === null
    ? `This app needs more ${kind} than you may use at once. Shut down a session that uses them first, or ${userRemedy(reader)}.`
    : `You may use ${gpus(limit)} at once${inUse}, too few for this app. Shut down a session that uses them first, or ${userRemedy(reader)}.`;
}

/** Any failed request as one or two sentences for the page. */
export function failureSentence(failure: Failure, reader: Reader = 'member'): string {
  const { status, code, message } = failure;
  if (status === 0) return 'Floe cannot be reached. Check your connection and try again.';
  switch (code) {
    case 'quota_exceeded':
      return quotaSentence(failure, reader);
    case 'no_capacity': {
      const wait = failure.retryAfter;
      return `Every GPU that could run this is busy right now. Try again ${
        wait && wait > 0
          ? `in ${wait < 60 ? plural(wait, 'second') : plural(Math.ceil(wait / 60), 'minute')}`
          : 'shortly'
      }.`;
    }
    case 'unplaceable':
      return reader === 'member'
        ? 'None of your organization’s clusters can run this app (its GPU type or region is not available). Ask an admin to check the app.'
        : 'None of your organization’s clusters can run this app (its GPU type or region is not available). Check the app in Console → Apps.';
    case 'rate_limited': {
      const wait = failure.retryAfter;
      return `That was a lot of launches in a short time. Try again ${wait && wait > 0 ? `in ${plural(wait, 'second')}` : 'in a moment'}.`;
    }
    case 'forbidden':
      return 'Your role does not allow this.';
    case 'unauthorized':
      return 'Your sign-in has expired. Sign in again.';
    case 'not_found':
      return `${sentence(message)} It may have been removed; reload the page.`;
    case 'conflict':
    case 'invalid_request':
    case 'idempotency_key_reused':
      return sentence(message);
  }
  if (status === 429) {
    return quotaName(failure)
      ? quotaSentence(failure, reader)
      : sentence(message || 'Too many requests; try again in a moment');
  }
  if (status >= 500) return 'Something went wrong on the server. Try again in a moment.';
  return sentence(message || `The request failed (HTTP ${status})`);
}
