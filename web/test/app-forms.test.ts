import { describe, expect, it } from 'vitest';
import {
  ApiKeyCreate,
  AppCreate,
  AppPatch,
  IdentityProviderPut,
  isIssuerUrl,
  TenantCreate,
  TenantPatch,
  UserCreate,
} from '../../control/src/http/schemas.ts';
import {
  apiKeyFormToBody,
  appFormToBody,
  appToFields,
  gpusPerSkuFromText,
  gpusPerSkuText,
  identityFormToBody,
  isIssuer,
  joinCommand,
  parseEnv,
  quotaFormToBody,
  skuQuotaFormToBody,
  splitCommand,
  splitList,
  tenantFormToBody,
  userFormToBody,
} from '../src/app/forms.ts';
import type { App } from '../src/app/types.ts';

describe('splitCommand', () => {
  it('splits on spaces and keeps quoted words together', () => {
    expect(splitCommand('xterm')).toEqual({ ok: true, argv: ['xterm'] });
    expect(splitCommand('  code   --wait  ')).toEqual({ ok: true, argv: ['code', '--wait'] });
    expect(splitCommand(`xterm -fa "DejaVu Sans Mono" -T 'my term'`)).toEqual({
      ok: true,
      argv: ['xterm', '-fa', 'DejaVu Sans Mono', '-T', 'my term'],
    });
    expect(splitCommand(`sh -c "echo \\"hi\\" \\$HOME"`)).toEqual({
      ok: true,
      argv: ['sh', '-c', 'echo "hi" $HOME'],
    });
    expect(splitCommand(`a\\ b "" c`)).toEqual({ ok: true, argv: ['a b', '', 'c'] });
    expect(splitCommand(`it's`)).toEqual({ ok: false, error: 'a single quote is not closed' });
    expect(splitCommand('')).toEqual({ ok: true, argv: [] });
  });

  it('round-trips through joinCommand', () => {
    for (const argv of [
      ['xterm'],
      ['sh', '-c', 'echo "a b" && ls'],
      ["it's", 'x y', '--flag=1'],
      ['a\\b', '$HOME'],
    ]) {
      expect(splitCommand(joinCommand(argv))).toEqual({ ok: true, argv });
    }
  });
});

describe('parseEnv', () => {
  it('reads NAME=value lines, skipping blanks and comments', () => {
    expect(parseEnv('A=1\n\n# note\nB_2 = x=y \n')).toEqual({
      ok: true,
      env: { A: '1', B_2: ' x=y' },
    });
    expect(parseEnv('1BAD=x')).toEqual({ ok: false, error: 'line 1: write NAME=value' });
    expect(parseEnv('A=1\nnovalue')).toEqual({ ok: false, error: 'line 2: write NAME=value' });
  });
});

const appFields = {
  slug: 'blender',
  name: ' Blender ',
  description: '3D suite',
  icon: '',
  command: 'blender --factory-startup',
  image: '',
  cpu: '8',
  memory: '32Gi',
  gpuSku: 'L4',
  gpuCount: '1',
  persistence: '20Gi',
  idleTimeoutMinutes: '30',
  maxLifetimeMinutes: '',
  env: 'DISPLAY_SCALE=2',
};

describe('appFormToBody', () => {
  it('builds the body AppCreate takes, with argv, GPUs and seconds', () => {
    const checked = appFormToBody(appFields, 'create');
    expect(checked).toEqual({
      ok: true,
      body: {
        slug: 'blender',
        name: 'Blender',
        description: '3D suite',
        icon: null,
        image: null,
        command: ['blender', '--factory-startup'],
        resources: { cpu: '8', memory: '32Gi', gpus: { sku: 'l4', count: 1 } },
        class: null,
        persistence: { size: '20Gi' },
        idleTimeoutSeconds: 1800,
        maxLifetimeSeconds: null,
        env: { DISPLAY_SCALE: '2' },
      },
    });
    if (checked.ok) expect(AppCreate.parse(checked.body)).toMatchObject(checked.body);
  });

  it('leaves the slug out of an edit, as AppPatch wants', () => {
    const checked = appFormToBody(
      { ...appFields, slug: 'ignored', gpuCount: '0', gpuSku: '' },
      'edit',
    );
    expect(checked.ok && 'slug' in checked.body).toBe(false);
    expect(checked.ok && checked.body.resources.gpus).toBeNull();
    if (checked.ok) expect(AppPatch.safeParse(checked.body).success).toBe(true);
  });

  it('names each mistake beside its field', () => {
    const checked = appFormToBody(
      {
        slug: 'Bad_Slug',
        name: ' ',
        command: 'x "open',
        cpu: 'two',
        memory: '4GB',
        gpuCount: '2',
        gpuSku: '',
        idleTimeoutMinutes: '0',
        env: 'no-equals',
      },
      'create',
    );
    expect(checked.ok).toBe(false);
    if (!checked.ok) {
      expect(Object.keys(checked.errors).sort()).toEqual([
        'command',
        'cpu',
        'env',
        'gpuSku',
        'idleTimeoutMinutes',
        'memory',
        'name',
        'slug',
      ]);
      expect(checked.errors.command).toBe(
        'The command cannot be read: a double quote is not closed.',
      );
    }
  });

  it('needs a command or an image', () => {
    const none = appFormToBody({ ...appFields, command: '', image: '' }, 'create');
    expect(none.ok ? null : none.errors.command).toMatch(/command .* or a container image/);
    const image = appFormToBody(
      { ...appFields, command: '', image: 'registry.example/blender:4' },
      'create',
    );
    expect(image.ok && image.body.command).toBeNull();
    if (image.ok) expect(AppCreate.safeParse(image.body).success).toBe(true);
  });

  it('refuses a scripted icon', () => {
    const bad = appFormToBody({ ...appFields, icon: 'javascript:alert(1)' }, 'create');
    expect(bad.ok ? null : bad.errors.icon).toMatch(/https/);
  });

  it('turns an app back into its form', () => {
    const app: App = {
      id: 'x',
      tenantId: 't',
      slug: 'term',
      name: 'Term',
      description: '',
      icon: null,
      image: null,
      command: ['xterm', '-T', 'my term'],
      resources: { cpu: '1', memory: '2Gi', gpus: { sku: 'l4', count: 2 } },
      class: 'workstation',
      persistence: null,
      idleTimeoutSeconds: 3600,
      maxLifetimeSeconds: null,
      env: { A: '1' },
      scheduling: null,
      videoCodecs: null,
      createdAt: '',
      updatedAt: '',
    };
    const fields = appToFields(app);
    expect(fields).toMatchObject({
      command: "xterm -T 'my term'",
      gpuSku: 'l4',
      gpuCount: '2',
      idleTimeoutMinutes: '60',
      maxLifetimeMinutes: '',
      env: 'A=1',
      appClass: 'workstation',
    });
    const back = appFormToBody(fields, 'edit');
    expect(back.ok && back.body.command).toEqual(['xterm', '-T', 'my term']);
    expect(back.ok && back.body.class).toBe('workstation');
    const unclassed = appFormToBody({ ...fields, appClass: '' }, 'edit');
    expect(unclassed.ok && unclassed.body.class).toBeNull();
    const bad = appFormToBody({ ...fields, appClass: 'two words' }, 'edit');
    expect(bad.ok ? null : bad.errors.appClass).toMatch(/Lowercase/);
  });
});

describe('small forms', () => {
  it('users', () => {
    const ok = userFormToBody({ email: ' Ada@Example.com ', role: 'tenant-admin' });
    expect(ok).toEqual({ ok: true, body: { email: 'ada@example.com', role: 'tenant-admin' } });
    if (ok.ok) expect(UserCreate.safeParse(ok.body).success).toBe(true);
    expect(userFormToBody({ email: 'nope', role: 'owner' })).toEqual({
      ok: false,
      errors: { email: 'Enter an email address.', role: 'Choose a role.' },
    });
  });

  it('quotas: empty is unlimited', () => {
    const ok = quotaFormToBody({ maxSessions: '10', maxGpus: '', gpuHoursPerMonth: '0' });
    expect(ok).toEqual({ ok: true, body: { maxSessions: 10, maxGpus: null, gpuHoursPerMonth: 0 } });
    if (ok.ok) expect(TenantPatch.safeParse({ quotas: ok.body }).success).toBe(true);
    const bad = quotaFormToBody({ maxSessions: '-1', maxGpus: '1.5' });
    expect(bad.ok ? [] : Object.keys(bad.errors)).toEqual(['maxSessions', 'maxGpus']);
  });

  it.each([
    ['', {}],
    ['l4: 4', { l4: 4 }],
    ['L4=4, a100:1', { l4: 4, a100: 1 }],
    ['l4: 0\nh100-sxm: 8;', { l4: 0, 'h100-sxm': 8 }],
  ])('GPUs per type: %j', (typed, limits) => {
    expect(gpusPerSkuFromText(typed)).toEqual({ ok: true, value: limits });
    expect(gpusPerSkuFromText(gpusPerSkuText(limits))).toEqual({ ok: true, value: limits });
    const body = skuQuotaFormToBody({ maxGpusPerSku: typed, gpuHoursExceededAction: 'stop' });
    expect(body).toEqual({
      ok: true,
      body: { maxGpusPerSku: limits, gpuHoursExceededAction: 'stop' },
    });
    if (body.ok) expect(TenantPatch.safeParse({ quotas: body.body }).success).toBe(true);
  });

  it.each([
    ['l4', /type: GPUs/],
    ['l4: -1', /^l4: /],
    ['l4: 1.5', /^l4: /],
    ['l4: 1, l4: 2', /named twice/],
    ['a_b: 1', /type: GPUs/],
  ])('GPUs per type refused: %j', (typed, error) => {
    const parsed = gpusPerSkuFromText(typed);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toMatch(error);
    const body = skuQuotaFormToBody({ maxGpusPerSku: typed, gpuHoursExceededAction: 'explode' });
    expect(body.ok ? [] : Object.keys(body.errors).sort()).toEqual([
      'gpuHoursExceededAction',
      'maxGpusPerSku',
    ]);
  });

  it('tenants', () => {
    const ok = tenantFormToBody({
      slug: 'acme',
      name: 'Acme',
      maxSessions: '5',
      allowedRegions: 'eu-west, us-east',
    });
    expect(ok).toEqual({
      ok: true,
      body: {
        slug: 'acme',
        name: 'Acme',
        quotas: { maxSessions: 5, maxGpus: null, gpuHoursPerMonth: null },
        allowedRegions: ['eu-west', 'us-east'],
      },
    });
    if (ok.ok) expect(TenantCreate.safeParse(ok.body).success).toBe(true);
    const bad = tenantFormToBody({ slug: '-x', name: '', allowedRegions: 'EU West' });
    expect(bad.ok ? [] : Object.keys(bad.errors).sort()).toEqual([
      'allowedRegions',
      'name',
      'slug',
    ]);
  });

  it('API keys: member keys name their user; expiry in days', () => {
    const now = new Date('2025-03-10T00:00:00Z');
    const ok = apiKeyFormToBody(
      { name: 'ci', role: 'member', user: 'ada@x.com', expiresInDays: '30' },
      now,
    );
    expect(ok).toEqual({
      ok: true,
      body: {
        name: 'ci',
        role: 'member',
        user: 'ada@x.com',
        expiresAt: '2025-04-09T00:00:00.000Z',
      },
    });
    if (ok.ok) expect(ApiKeyCreate.safeParse(ok.body).success).toBe(true);
    expect(apiKeyFormToBody({ name: 'ops', role: 'tenant-admin' }, now)).toEqual({
      ok: true,
      body: { name: 'ops', role: 'tenant-admin' },
    });
    const bad = apiKeyFormToBody({ name: '', role: 'member' }, now);
    expect(bad.ok ? [] : Object.keys(bad.errors).sort()).toEqual(['name', 'user']);
  });

  it('identity provider: the secret is write-only', () => {
    const fields = {
      issuer: 'https://login.example.com/realms/acme',
      clientId: 'floe',
      clientSecret: '',
      rolesClaim: '',
      adminRoles: 'floe-admins, ops',
      hostnames: 'Acme.floe.example, acme.floe.example',
    };
    // empty: keep the stored secret (or none: a public client)
    const keep = identityFormToBody(fields);
    expect(keep).toEqual({
      ok: true,
      body: {
        issuer: 'https://login.example.com/realms/acme',
        clientId: 'floe',
        rolesClaim: 'floe_roles',
        adminRoles: ['floe-admins', 'ops'],
        hostnames: ['acme.floe.example'],
      },
    });
    if (keep.ok) expect(IdentityProviderPut.parse(keep.body)).toEqual(keep.body);
    const set = identityFormToBody({ ...fields, clientSecret: 's3cret' });
    expect(set.ok && set.body.clientSecret).toBe('s3cret');
    const remove = identityFormToBody({ ...fields, removeSecret: 'on' });
    expect(remove.ok && remove.body.clientSecret).toBeNull();
    if (remove.ok) expect(IdentityProviderPut.safeParse(remove.body).success).toBe(true);
    expect(identityFormToBody({ ...fields, clientSecret: 'x', removeSecret: 'on' }).ok).toBe(false);
  });

  it('identity provider: issuer and host names as the control plane takes them', () => {
    const base = { issuer: 'https://login.example.com', clientId: 'floe' };
    expect(isIssuer('https://login.example.com/realms/acme')).toBe(true);
    expect(isIssuer('http://localhost:9000')).toBe(true);
    expect(isIssuer('http://login.example.com')).toBe(false);
    expect(isIssuer('https://login.example.com/?tenant=a')).toBe(false);
    expect(isIssuer('https://user:pw@login.example.com')).toBe(false);
    expect(isIssuer('login.example.com')).toBe(false);
    for (const issuer of ['https://a.example/x', 'http://127.0.0.1:1', 'https://a.example#f']) {
      expect(isIssuer(issuer), issuer).toBe(isIssuerUrl(issuer));
    }
    expect(identityFormToBody({ ...base, hostnames: 'bad_host, -x.example' })).toEqual({
      ok: false,
      errors: { hostnames: 'Not a host name: bad_host, -x.example.' },
    });
    expect(identityFormToBody({ ...base, hostnames: 'acme.floe.example:8443' }).ok).toBe(false);
  });

  it('splitList takes commas, spaces and lines', () => {
    expect(splitList(' a, b\nc  d,,')).toEqual(['a', 'b', 'c', 'd']);
  });
});
