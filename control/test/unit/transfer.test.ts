// What a session's streamer allows (src/domain/transfer.ts): the tenant's policy narrowed by
// the app's, and the streamer's environment for it, as tables.
import { describe, expect, it } from 'vitest';
import {
  effectiveTransfer,
  OPEN_POLICY,
  type TransferPolicy,
  transferEnv,
} from '../../src/domain/transfer.ts';

const p = (over: Partial<TransferPolicy>): TransferPolicy => ({ ...OPEN_POLICY, ...over });

describe('effectiveTransfer', () => {
  it.each([
    ['no policies', null, null, OPEN_POLICY],
    [
      'tenant off',
      p({ files: false, clipboard: false }),
      null,
      p({ files: false, clipboard: false }),
    ],
    ['app off', null, p({ clipboard: false }), p({ clipboard: false })],
    // an app cannot turn on what its tenant turned off
    ['tenant off, app on', p({ files: false }), p({ files: true }), p({ files: false })],
    ['tenant limit', p({ maxFileBytes: 100 }), null, p({ maxFileBytes: 100 })],
    ['app limit', null, p({ maxHomeBytes: 50 }), p({ maxHomeBytes: 50 })],
    // the smaller limit wins, whichever set it
    [
      'both limits, app smaller',
      p({ maxFileBytes: 100 }),
      p({ maxFileBytes: 10 }),
      p({ maxFileBytes: 10 }),
    ],
    [
      'both limits, tenant smaller',
      p({ maxFileBytes: 10 }),
      p({ maxFileBytes: 100 }),
      p({ maxFileBytes: 10 }),
    ],
    ['zero is a limit', p({ maxFileBytes: 0 }), null, p({ maxFileBytes: 0 })],
  ])('%s', (_, tenant, app, expected) => {
    expect(effectiveTransfer(tenant, app)).toEqual(expected);
  });
});

describe('transferEnv', () => {
  it.each([
    [OPEN_POLICY, { FLOE_STREAMER_CLIPBOARD: 'on', FLOE_STREAMER_FILES: 'on' }],
    [
      p({ clipboard: false, files: false, maxFileBytes: 0, maxHomeBytes: 2 ** 40 }),
      {
        FLOE_STREAMER_CLIPBOARD: 'off',
        FLOE_STREAMER_FILES: 'off',
        FLOE_STREAMER_MAX_FILE_BYTES: '0',
        FLOE_STREAMER_MAX_HOME_BYTES: '1099511627776',
      },
    ],
  ])('%j', (settings, env) => {
    expect(transferEnv(settings)).toEqual(env);
  });
});
