/**
 * Form fields → request bodies, checked the way the control plane's zod schemas check them
 * (control/src/http/schemas.ts), so a mistake is named beside its field before any request.
 * Every function takes the raw strings of a form and answers a body or per-field errors.
 */
import type {
  App,
  GpuHoursExceededAction,
  GpusPerSku,
  Quotas,
  TransferPolicy,
  UserLimits,
} from './types.ts';

export type Fields = Record<string, string | undefined>;
export type FormErrors = Record<string, string>;
export type Checked<T> = { ok: true; body: T } | { ok: false; errors: FormErrors };

const SLUG = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const REGION = /^[a-z0-9-]{1,63}$/;
const QUANTITY = /^\d+(\.\d+)?(m|k|Ki|Mi|Gi|Ti|K|M|G|T)?$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

const text = (fields: Fields, name: string) => (fields[name] ?? '').trim();

/** Splits a command line into argv like a POSIX shell does for words and quotes (no expansion). */
export function splitCommand(
  line: string,
): { ok: true; argv: string[] } | { ok: false; error: string } {
  const argv: string[] = [];
  let word = '';
  let inWord = false;
  let quote: "'" | '"' | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote === "'") {
      if (c === "'") quote = null;
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === '\\' && i + 1 < line.length && '"\\$`'.includes(line[i + 1]!))
        word += line[++i];
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === '\\') {
      if (i + 1 < line.length) word += line[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) argv.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote)
    return { ok: false, error: `a ${quote === '"' ? 'double' : 'single'} quote is not closed` };
  if (inWord) argv.push(word);
  return { ok: true, argv };
}

/** argv back to one line that `splitCommand` reads as the same argv. */
export function joinCommand(argv: readonly string[]): string {
  return argv
    .map((a) => (a !== '' && /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`))
    .join(' ');
}

/** An optional whole number within bounds: '' → null. */
function optionalInt(
  value: string,
  min: number,
  max: number,
): { ok: true; value: number | null } | { ok: false; error: string } {
  if (value === '') return { ok: true, value: null };
  if (!/^\d+$/.test(value)) return { ok: false, error: 'a whole number' };
  const n = Number(value);
  if (n < min || n > max)
    return { ok: false, error: `between ${min} and ${max.toLocaleString('en-US')}` };
  return { ok: true, value: n };
}

/** Parses KEY=value lines; blank lines and lines starting with # are skipped. */
export function parseEnv(
  lines: string,
): { ok: true; env: Record<string, string> } | { ok: false; error: string } {
  const env: Record<string, string> = {};
  for (const [i, raw] of lines.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    const name = eq < 0 ? line : line.slice(0, eq).trim();
    if (eq < 0 || !ENV_NAME.test(name))
      return { ok: false, error: `line ${i + 1}: write NAME=value` };
    env[name] = line.slice(eq + 1);
  }
  if (Object.keys(env).length > 200) return { ok: false, error: 'at most 200 variables' };
  return { ok: true, env };
}

export const formatEnv = (env: Record<string, string>): string =>
  Object.entries(env)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');

/** The body of POST /apps (create) or PATCH /apps/{slug} (edit: everything but the slug). */
export interface AppBody {
  slug?: string;
  name: string;
  description: string;
  icon: string | null;
  image: string | null;
  command: string[] | null;
  resources: { cpu: string; memory: string; gpus: { sku: string; count: number } | null };
  class: string | null;
  persistence: { size: string } | null;
  idleTimeoutSeconds: number | null;
  maxLifetimeSeconds: number | null;
  env: Record<string, string>;
}

/** The app form's field names, as `appToFields` fills them. */
export const APP_FIELDS = [
  'slug',
  'name',
  'description',
  'icon',
  'appClass',
  'command',
  'image',
  'cpu',
  'memory',
  'gpuSku',
  'gpuCount',
  'persistence',
  'idleTimeoutMinutes',
  'maxLifetimeMinutes',
  'env',
] as const;

/** An app's form, minutes for the timeouts (the API takes seconds). */
export function appToFields(app: App): Record<(typeof APP_FIELDS)[number], string> {
  const minutes = (s: number | null) => (s === null ? '' : String(Math.round(s / 60)));
  return {
    slug: app.slug,
    name: app.name,
    description: app.description,
    icon: app.icon ?? '',
    appClass: app.class ?? '',
    command: app.command ? joinCommand(app.command) : '',
    image: app.image ?? '',
    cpu: app.resources.cpu,
    memory: app.resources.memory,
    gpuSku: app.resources.gpus?.sku ?? '',
    gpuCount: String(app.resources.gpus?.count ?? 0),
    persistence: app.persistence?.size ?? '',
    idleTimeoutMinutes: minutes(app.idleTimeoutSeconds),
    maxLifetimeMinutes: minutes(app.maxLifetimeSeconds),
    env: formatEnv(app.env),
  };
}

export function appFormToBody(fields: Fields, mode: 'create' | 'edit'): Checked<AppBody> {
  const errors: FormErrors = {};
  const slug = text(fields, 'slug');
  if (mode === 'create' && !SLUG.test(slug)) {
    errors.slug = 'Lowercase letters, digits and dashes, 1–63, not starting or ending with a dash.';
  }
  const name = text(fields, 'name');
  if (!name) errors.name = 'Give the app a name.';
  else if (name.length > 200) errors.name = 'At most 200 characters.';
  const description = text(fields, 'description');
  if (description.length > 2000) errors.description = 'At most 2000 characters.';
  const icon = text(fields, 'icon');
  if (icon.length > 8192) errors.icon = 'At most 8192 characters; use a URL for a large icon.';
  else if (icon && !/^(https?:\/\/|data:image\/|\/)/i.test(icon)) {
    errors.icon = 'An https:// URL, a /path or a data:image/… URI.';
  }
  const appClass = text(fields, 'appClass').toLowerCase();
  if (appClass && !SLUG.test(appClass)) {
    errors.appClass = 'Lowercase letters, digits and dashes, such as workstation.';
  }
  const image = text(fields, 'image');
  if (image.length > 512) errors.image = 'At most 512 characters.';

  let command: string[] | null = null;
  const split = splitCommand(text(fields, 'command'));
  if (!split.ok) errors.command = `The command cannot be read: ${split.error}.`;
  else if (split.argv.length > 256) errors.command = 'At most 256 arguments.';
  else if (split.argv.some((a) => a.length === 0))
    errors.command = 'Empty arguments are not allowed.';
  else if (split.argv.length > 0) command = split.argv;
  if (!errors.command && !errors.image && command === null && !image) {
    errors.command = 'Give a command (local runner) or a container image (Kubernetes), or both.';
  }

  const cpu = text(fields, 'cpu') || '1';
  if (!QUANTITY.test(cpu)) errors.cpu = 'A Kubernetes quantity such as 2 or 500m.';
  const memory = text(fields, 'memory') || '2Gi';
  if (!QUANTITY.test(memory)) errors.memory = 'A Kubernetes quantity such as 4Gi.';

  let gpus: AppBody['resources']['gpus'] = null;
  const gpuCount = optionalInt(text(fields, 'gpuCount'), 0, 64);
  const sku = text(fields, 'gpuSku').toLowerCase();
  if (!gpuCount.ok) errors.gpuCount = `GPUs: ${gpuCount.error}.`;
  else if ((gpuCount.value ?? 0) > 0) {
    if (!REGION.test(sku)) errors.gpuSku = 'Name the GPU type, such as l4 or a100.';
    else gpus = { sku, count: gpuCount.value! };
  } else if (sku && !REGION.test(sku)) errors.gpuSku = 'Lowercase letters, digits and dashes.';

  const size = text(fields, 'persistence');
  if (size && !QUANTITY.test(size)) errors.persistence = 'A Kubernetes quantity such as 10Gi.';

  const minutes = (field: string) => {
    const v = optionalInt(text(fields, field), 1, 525_600);
    if (!v.ok) {
      errors[field] = `Minutes: ${v.error}.`;
      return null;
    }
    return v.value === null ? null : v.value * 60;
  };
  const idleTimeoutSeconds = minutes('idleTimeoutMinutes');
  const maxLifetimeSeconds = minutes('maxLifetimeMinutes');

  const env = parseEnv(fields.env ?? '');
  if (!env.ok) errors.env = `Environment: ${env.error}.`;

  if (Object.keys(errors).length > 0 || !env.ok) return { ok: false, errors };
  return {
    ok: true,
    body: {
      ...(mode === 'create' && { slug }),
      name,
      description,
      icon: icon || null,
      image: image || null,
      command,
      resources: { cpu, memory, gpus },
      class: appClass || null,
      persistence: size ? { size } : null,
      idleTimeoutSeconds,
      maxLifetimeSeconds,
      env: env.env,
    },
  };
}

export function userFormToBody(
  fields: Fields,
): Checked<{ email: string; role: 'tenant-admin' | 'member' }> {
  const email = text(fields, 'email').toLowerCase();
  const role = text(fields, 'role') || 'member';
  const errors: FormErrors = {};
  if (!EMAIL.test(email) || email.length > 320) errors.email = 'Enter an email address.';
  if (role !== 'member' && role !== 'tenant-admin') errors.role = 'Choose a role.';
  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return { ok: true, body: { email, role: role as 'tenant-admin' | 'member' } };
}

const QUOTA_FIELDS = ['maxSessions', 'maxGpus', 'gpuHoursPerMonth'] as const;
const USER_LIMIT_FIELDS = ['maxSessions', 'maxGpus'] as const;

/** Limit fields: empty means no limit (null); 0 is a limit of nothing. */
function limitsFromFields<K extends string>(
  fields: Fields,
  names: readonly K[],
): Checked<Record<K, number | null>> {
  const errors: FormErrors = {};
  const limits = {} as Record<K, number | null>;
  for (const name of names) {
    const v = optionalInt(text(fields, name), 0, 1_000_000);
    if (v.ok) limits[name] = v.value;
    else errors[name] = `Leave empty for no limit, or ${v.error}.`;
  }
  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return { ok: true, body: limits };
}

/** A tenant's quota fields: empty means unlimited (null). */
export function quotaFormToBody(fields: Fields): Checked<Quotas> {
  return limitsFromFields(fields, QUOTA_FIELDS);
}

/** A user's own limits (PATCH /users/{user} `limits`): empty means no limit (null). */
export function userLimitsFormToBody(fields: Fields): Checked<UserLimits> {
  const counts = limitsFromFields(fields, USER_LIMIT_FIELDS);
  const perSku = gpusPerSkuFromText(text(fields, 'maxGpusPerSku'));
  if (!counts.ok || !perSku.ok) {
    return {
      ok: false,
      errors: {
        ...(counts.ok ? {} : counts.errors),
        ...(perSku.ok ? {} : { maxGpusPerSku: perSku.error }),
      },
    };
  }
  return { ok: true, body: { ...counts.body, maxGpusPerSku: perSku.value } };
}

/** GPUs per SKU as typed: "l4: 4, a100: 1" (commas, spaces or lines between); empty: none. */
export function gpusPerSkuFromText(
  value: string,
): { ok: true; value: GpusPerSku } | { ok: false; error: string } {
  const out: GpusPerSku = {};
  const entries = value
    .split(/[,;\n]+/)
    .map((e) => e.trim())
    .filter(Boolean);
  if (entries.length > 64) return { ok: false, error: 'At most 64 GPU types.' };
  for (const entry of entries) {
    const m = entry.match(/^([A-Za-z0-9-]+)\s*[:=]\s*(\S+)$/);
    const sku = m?.[1]?.toLowerCase() ?? '';
    if (!m || !REGION.test(sku))
      return { ok: false, error: `Write each as type: GPUs, e.g. l4: 4 (not "${entry}").` };
    const n = optionalInt(m[2]!, 0, 1_000_000);
    if (!n.ok || n.value === null)
      return { ok: false, error: `${sku}: ${n.ok ? 'a whole number' : n.error}.` };
    if (sku in out) return { ok: false, error: `${sku} is named twice.` };
    out[sku] = n.value;
  }
  return { ok: true, value: out };
}

/** GPUs per SKU back to the text `gpusPerSkuFromText` reads. */
export const gpusPerSkuText = (limits: GpusPerSku): string =>
  Object.entries(limits)
    .map(([sku, n]) => `${sku}: ${n}`)
    .join(', ');

/** The per-SKU and GPU-hours-action fields of the tenant quota form. */
export function skuQuotaFormToBody(
  fields: Fields,
): Checked<{ maxGpusPerSku: GpusPerSku; gpuHoursExceededAction: GpuHoursExceededAction }> {
  const errors: FormErrors = {};
  const perSku = gpusPerSkuFromText(text(fields, 'maxGpusPerSku'));
  if (!perSku.ok) errors.maxGpusPerSku = perSku.error;
  const action = text(fields, 'gpuHoursExceededAction') || 'refuse';
  if (action !== 'refuse' && action !== 'stop')
    errors.gpuHoursExceededAction = 'Choose what happens.';
  if (!perSku.ok || Object.keys(errors).length > 0) return { ok: false, errors };
  return {
    ok: true,
    body: { maxGpusPerSku: perSku.value, gpuHoursExceededAction: action as GpuHoursExceededAction },
  };
}

/** A list typed as commas, spaces or lines. */
export const splitList = (value: string): string[] =>
  value
    .split(/[\s,]+/)
    .map((v) => v.trim())
    .filter(Boolean);

export interface TenantBody {
  slug: string;
  name: string;
  quotas: Quotas;
  allowedRegions: string[];
}

export function tenantFormToBody(fields: Fields): Checked<TenantBody> {
  const errors: FormErrors = {};
  const slug = text(fields, 'slug');
  if (!SLUG.test(slug)) errors.slug = 'Lowercase letters, digits and dashes, 1–63.';
  const name = text(fields, 'name');
  if (!name) errors.name = 'Give the tenant a name.';
  const quotas = quotaFormToBody(fields);
  if (!quotas.ok) Object.assign(errors, quotas.errors);
  const allowedRegions = splitList(text(fields, 'allowedRegions'));
  const bad = allowedRegions.filter((r) => !REGION.test(r));
  if (bad.length) errors.allowedRegions = `Not a region name: ${bad.join(', ')}.`;
  if (Object.keys(errors).length > 0 || !quotas.ok) return { ok: false, errors };
  return { ok: true, body: { slug, name, quotas: quotas.body, allowedRegions } };
}

export interface ApiKeyBody {
  name: string;
  role: 'tenant-admin' | 'member';
  user?: string;
  expiresAt?: string;
}

/** An API key: member keys act as a user; `expiresInDays` empty means no expiry. */
export function apiKeyFormToBody(fields: Fields, now: Date): Checked<ApiKeyBody> {
  const errors: FormErrors = {};
  const name = text(fields, 'name');
  if (!name) errors.name = 'Name the key after what uses it.';
  const role = text(fields, 'role') || 'member';
  if (role !== 'member' && role !== 'tenant-admin') errors.role = 'Choose a role.';
  const user = text(fields, 'user');
  if (role === 'member' && !user) errors.user = 'A member key acts as a user: enter their email.';
  const days = optionalInt(text(fields, 'expiresInDays'), 1, 3650);
  if (!days.ok) errors.expiresInDays = `Days: ${days.error}.`;
  if (Object.keys(errors).length > 0) return { ok: false, errors };
  const expires =
    days.ok && days.value !== null ? new Date(now.getTime() + days.value * 86_400_000) : null;
  return {
    ok: true,
    body: {
      name,
      role: role as ApiKeyBody['role'],
      ...(user && { user }),
      ...(expires && { expiresAt: expires.toISOString() }),
    },
  };
}

/** The body of PUT /identity-provider (IdentityProviderPut). */
export interface IdentityProviderBody {
  issuer: string;
  clientId: string;
  /** Omitted: keep the stored secret; null: remove it (a public client). */
  clientSecret?: string | null;
  rolesClaim: string;
  adminRoles: string[];
  hostnames: string[];
}

/** The defaults of IdentityProviderPut, for a new provider's form. */
export const IDENTITY_DEFAULTS = { rolesClaim: 'floe_roles', adminRoles: ['tenant-admin'] };

const HOSTNAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** An OpenID issuer: https (http for loopback only), no credentials, query or fragment. */
export function isIssuer(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.username || url.password || /[?#]/.test(value)) return false;
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  return url.protocol === 'https:' || (url.protocol === 'http:' && loopback);
}

/**
 * The identity provider form. The client secret is write-only: an empty field keeps the
 * stored one (or, for a new provider, makes a public client that relies on PKCE alone);
 * `removeSecret` ('on') removes the stored one.
 */
export function identityFormToBody(fields: Fields): Checked<IdentityProviderBody> {
  const errors: FormErrors = {};
  const issuer = text(fields, 'issuer');
  if (!isIssuer(issuer) || issuer.length > 2048) {
    errors.issuer = 'The issuer’s https:// URL, without a query (http only for localhost).';
  }
  const clientId = text(fields, 'clientId');
  if (!clientId) errors.clientId = 'The client ID registered with the provider.';
  const clientSecret = text(fields, 'clientSecret');
  const removeSecret = fields.removeSecret === 'on';
  if (clientSecret && removeSecret) {
    errors.clientSecret = 'Enter a new secret or remove the stored one, not both.';
  }
  const rolesClaim = text(fields, 'rolesClaim') || IDENTITY_DEFAULTS.rolesClaim;
  const adminRoles = splitList(text(fields, 'adminRoles'));
  const hostnames = [...new Set(splitList(text(fields, 'hostnames')).map((h) => h.toLowerCase()))];
  const badHost = hostnames.filter((h) => !HOSTNAME.test(h) || h.length > 253);
  if (badHost.length) errors.hostnames = `Not a host name: ${badHost.join(', ')}.`;
  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return {
    ok: true,
    body: {
      issuer,
      clientId,
      ...(clientSecret ? { clientSecret } : removeSecret ? { clientSecret: null } : {}),
      rolesClaim,
      adminRoles,
      hostnames,
    },
  };
}

const MiB = 1024 * 1024;
/** 1 PiB, the control plane's bound */
const MAX_MIB = 1024 * 1024 * 1024;

/** Limits in MiB as the form shows them; empty for none. */
export const mibOf = (bytes: number | null) =>
  bytes === null ? '' : String(Math.round((bytes / MiB) * 100) / 100);

/**
 * The clipboard and file-transfer form: two switches (checkboxes: 'on' or absent) and two
 * limits in MiB, empty for none.
 */
export function transferFormToBody(fields: Fields): Checked<TransferPolicy> {
  const errors: FormErrors = {};
  const limit = (name: string) => {
    const raw = text(fields, name);
    if (raw === '') return null;
    const mib = Number(raw);
    if (!Number.isFinite(mib) || mib < 0 || mib > MAX_MIB) {
      errors[name] = 'A size in MiB (0 or more), or empty for no limit.';
      return null;
    }
    return Math.round(mib * MiB);
  };
  const maxFileBytes = limit('maxFileMiB');
  const maxHomeBytes = limit('maxHomeMiB');
  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return {
    ok: true,
    body: {
      clipboard: fields.clipboard === 'on',
      files: fields.files === 'on',
      maxFileBytes,
      maxHomeBytes,
    },
  };
}
