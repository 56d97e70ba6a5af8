// Share links (issue 19): a token the gateway signs for one link grant of one session; it
// names its grant only for that session, until it expires, and only when this gateway (or a
// replica with its keys) signed it.
import { describe, expect, it } from 'vitest';
import { loadKeys } from '../../src/keys.ts';
import { mintShareToken, shareTokenGrant } from '../../src/sessions/share-link.ts';

const ISSUER = 'https://gw.test';
const S1 = '0190aaaa-0000-7000-8000-000000000001';
const S2 = '0190aaaa-0000-7000-8000-000000000002';

describe('share links', () => {
  it('name their grant for their session only, until they expire', async () => {
    const keys = await loadKeys(undefined);
    const other = await loadKeys(undefined);
    const inAnHour = new Date(Date.now() + 3_600_000);
    const token = await mintShareToken(keys, ISSUER, {
      sessionId: S1,
      grantId: 'g1',
      expiresAt: inAnHour,
    });
    expect(await shareTokenGrant(keys, ISSUER, S1, token)).toBe('g1');
    // another session, another issuer, another gateway's keys, a bent token, none at all
    expect(await shareTokenGrant(keys, ISSUER, S2, token)).toBeNull();
    expect(await shareTokenGrant(keys, 'https://evil.test', S1, token)).toBeNull();
    expect(await shareTokenGrant(other, ISSUER, S1, token)).toBeNull();
    // a signature changed in its middle (its last characters carry padding bits: a change
    // there can decode to the same bytes when they already were "xx")
    const at = token.lastIndexOf('.') + 10;
    const flipped = token[at] === 'A' ? 'B' : 'A';
    const tampered = `${token.slice(0, at)}${flipped}${token.slice(at + 1)}`;
    expect(await shareTokenGrant(keys, ISSUER, S1, tampered)).toBeNull();
    expect(await shareTokenGrant(keys, ISSUER, S1, 'not.a.jwt')).toBeNull();
    expect(await shareTokenGrant(keys, ISSUER, S1, undefined)).toBeNull();
    const expired = await mintShareToken(
      keys,
      ISSUER,
      { sessionId: S1, grantId: 'g1', expiresAt: new Date(Date.now() - 120_000) },
      Math.floor(Date.now() / 1000) - 3_600,
    );
    expect(await shareTokenGrant(keys, ISSUER, S1, expired)).toBeNull();
  });
});
