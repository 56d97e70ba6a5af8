// The console's files & clipboard form (src/app/forms.ts transferFormToBody), as a table; every
// body it makes is one the control plane's own schema accepts.
import { describe, expect, it } from 'vitest';
import { TransferPolicy } from '../../control/src/routes/transfer-policy.ts';
import { mibOf, transferFormToBody } from '../src/app/forms.ts';

const MiB = 1024 * 1024;

describe('transferFormToBody', () => {
  it.each([
    [{}, { clipboard: false, files: false, maxFileBytes: null, maxHomeBytes: null }],
    [
      { clipboard: 'on', files: 'on', maxFileMiB: '100', maxHomeMiB: ' 2048 ' },
      { clipboard: true, files: true, maxFileBytes: 100 * MiB, maxHomeBytes: 2048 * MiB },
    ],
    [
      { files: 'on', maxFileMiB: '0.5' },
      { clipboard: false, files: true, maxFileBytes: MiB / 2, maxHomeBytes: null },
    ],
    [{ maxFileMiB: '0' }, { clipboard: false, files: false, maxFileBytes: 0, maxHomeBytes: null }],
  ])('%j → %j', (fields, body) => {
    const checked = transferFormToBody(fields);
    expect(checked).toEqual({ ok: true, body });
    expect(TransferPolicy.safeParse(body).success).toBe(true);
  });

  it.each([['-1'], ['ten'], ['Infinity'], [String(2 ** 31)]])('refuses %j MiB', (raw) => {
    expect(transferFormToBody({ maxFileMiB: raw, maxHomeMiB: raw })).toEqual({
      ok: false,
      errors: {
        maxFileMiB: 'A size in MiB (0 or more), or empty for no limit.',
        maxHomeMiB: 'A size in MiB (0 or more), or empty for no limit.',
      },
    });
  });

  it('shows limits back in MiB', () => {
    expect(mibOf(null)).toBe('');
    expect(mibOf(100 * MiB)).toBe('100');
    expect(mibOf(1.5 * MiB)).toBe('1.5');
  });
});
