import { describe, expect, it } from 'vitest';
import { decideJit } from '../../src/users/jit.ts';

const identity = { tenantId: 't', email: 'a@b.test', role: 'member' as const };
const live = { id: 'u1', role: 'member' as const, name: null };

describe('decideJit', () => {
  it('creates an unknown user and refuses a removed one', () => {
    expect(decideJit(undefined, false, identity)).toEqual({ kind: 'create' });
    expect(decideJit(undefined, true, identity)).toMatchObject({ kind: 'refuse' });
  });

  it('uses a known user, updating role and name to the token’s', () => {
    expect(decideJit(live, false, identity)).toEqual({ kind: 'use', userId: 'u1' });
    expect(decideJit(live, false, { ...identity, role: 'tenant-admin' })).toEqual({
      kind: 'update',
      userId: 'u1',
      set: { role: 'tenant-admin' },
    });
    expect(decideJit(live, false, { ...identity, name: 'Ada' })).toEqual({
      kind: 'update',
      userId: 'u1',
      set: { name: 'Ada' },
    });
    // a token without a name leaves the stored one
    expect(decideJit({ ...live, name: 'Ada' }, false, identity)).toEqual({
      kind: 'use',
      userId: 'u1',
    });
  });
});
