import { describe, expect, it } from 'vitest';
import { endedNotice, stateUrl } from '../src/stream/ended.ts';

describe('endedNotice', () => {
  it('tells the user the session ended, and why, when the gateway says so', () => {
    const body = { state: 'stopped', ended: true, message: 'You shut it down.' };
    expect(endedNotice(200, body)).toBe('This session has ended. You shut it down.');
    expect(endedNotice(200, { ...body, message: null })).toBe('This session has ended.');
  });

  it('takes the gateway’s not-found (gone, or not yours) as the end', () => {
    const body = { error: { code: 'not_found', message: 'no such session' } };
    expect(endedNotice(404, body)).toBe('This session has ended, or it is not yours.');
  });

  it('keeps reconnecting on anything else', () => {
    for (const [status, body] of [
      [200, { state: 'running', ended: false, message: null }],
      [200, { state: 'stopping', ended: false, message: null }],
      [404, null], // a streamer serving the page itself: no such endpoint
      [404, { error: { code: 'other' } }],
      [502, { error: { code: 'bad_gateway' } }],
      [401, { error: { code: 'unauthorized' } }],
    ] as const) {
      expect(endedNotice(status, body)).toBeNull();
    }
  });
});

describe('stateUrl', () => {
  it('asks beside a gateway’s stream URL only', () => {
    expect(stateUrl('https://floe.example/sessions/abc/?relay=1')).toBe(
      'https://floe.example/sessions/abc/state',
    );
    expect(stateUrl('https://floe.example/eu/sessions/abc/')).toBe(
      'https://floe.example/eu/sessions/abc/state',
    );
    expect(stateUrl('http://127.0.0.1:8080/')).toBeNull();
    expect(stateUrl('http://127.0.0.1:8080/index.html')).toBeNull();
  });
});
