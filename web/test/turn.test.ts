import { describe, expect, it } from 'vitest';
import { parseIceServers } from '../src/stream/turn.ts';

const server = { urls: ['turn:turn.example:3478?transport=udp'], username: 'u', credential: 'c' };

describe('the gateway’s ICE servers for the stream page', () => {
  it.each([
    ['the gateway’s answer', { iceServers: [server], expiresAt: '2030-01-01T00:00:00Z' }, [server]],
    ['one URL as a string', { iceServers: [{ urls: 'turn:t:1' }] }, [{ urls: 'turn:t:1' }]],
    ['no healthy server', { iceServers: [], expiresAt: null }, []],
    ['a 404 page’s JSON', { error: { code: 'not_found' } }, []],
    ['not an object', 'turn:t:1', []],
    ['null', null, []],
    ['a list that is not one', { iceServers: 'turn:t:1' }, []],
    ['entries of the wrong shape', { iceServers: [{ urls: 1 }, { urls: ['x', 2] }, 7] }, []],
    ['a credential that is not text', { iceServers: [{ urls: 'turn:t:1', credential: 1 }] }, []],
  ])('%s', (_, body, expected) => {
    expect(parseIceServers(body)).toEqual(expected);
  });
});
