import { describe, expect, it } from 'vitest';
import { iceServersFor, mintTurnCredentials, turnPassword } from '../src/credentials.ts';

// Computed independently:
//   printf '1700000600:sess-42' | openssl dgst -sha1 -hmac 'correct horse battery staple' -binary | base64
const SECRET = 'correct horse battery staple';
const VECTOR = { username: '1700000600:sess-42', credential: 'S82kSCkx0MU/uG4q26Cx+Y0qLHE=' };

describe('mintTurnCredentials', () => {
  it('follows the TURN REST scheme: expiry:session, base64 HMAC-SHA1', () => {
    const creds = mintTurnCredentials({
      secret: SECRET,
      sessionId: 'sess-42',
      ttlSeconds: 600,
      now: new Date(1_700_000_000_000),
    });
    expect(creds).toEqual({ ...VECTOR, expiresAt: new Date(1_700_000_600_000) });
    expect(turnPassword(SECRET, VECTOR.username)).toBe(VECTOR.credential);
  });

  it('defaults to a 600 s lifetime and rounds now down to the second', () => {
    const creds = mintTurnCredentials({
      secret: SECRET,
      sessionId: 's',
      now: new Date(1_700_000_000_999),
    });
    expect(creds.username).toBe('1700000600:s');
    expect(creds.expiresAt.getTime()).toBe(1_700_000_600_000);
  });

  it('refuses session ids that would break the username', () => {
    expect(() => mintTurnCredentials({ secret: SECRET, sessionId: 'a:b' })).toThrow(/contains ':'/);
    expect(() => mintTurnCredentials({ secret: SECRET, sessionId: '' })).toThrow(
      /session id is empty/,
    );
  });

  it('refuses an empty secret and a non-positive or fractional ttl', () => {
    expect(() => mintTurnCredentials({ secret: '', sessionId: 's' })).toThrow(/secret is empty/);
    for (const ttlSeconds of [0, -5, 1.5]) {
      expect(() => mintTurnCredentials({ secret: SECRET, sessionId: 's', ttlSeconds })).toThrow(
        /ttlSeconds/,
      );
    }
  });
});

describe('iceServersFor', () => {
  it('gives every server group the same credential', () => {
    const creds = { username: VECTOR.username, credential: VECTOR.credential };
    const servers = [
      { urls: ['turn:a.example:3478?transport=udp', 'turn:a.example:3478?transport=tcp'] },
      { urls: ['turns:b.example:443'] },
      { urls: [] },
    ];
    expect(iceServersFor(servers, creds)).toEqual([
      { urls: servers[0]!.urls, ...creds },
      { urls: ['turns:b.example:443'], ...creds },
    ]);
  });
});
