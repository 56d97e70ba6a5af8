// The viewer list's rows (issue 19): everyone sees who watches and who is in control; only
// the owner is offered to hand control over, take it back, or remove someone — never on
// itself or another owner.
import type { ViewerInfo } from '@floe/streamer/protocol';
import { describe, expect, it } from 'vitest';
import { sessionIdOf } from '../src/stream/share.ts';
import { viewerRow } from '../src/stream/viewers.ts';

const owner: ViewerInfo = {
  id: 'o',
  name: 'ada@acme.test',
  user: 'u-ada',
  role: 'owner',
  control: true,
};
const watcher: ViewerInfo = {
  id: 'w',
  name: 'bob@acme.test',
  user: 'u-bob',
  role: 'viewer',
  control: false,
};
const controller: ViewerInfo = {
  id: 'c',
  name: 'cy@acme.test',
  user: 'u-cy',
  role: 'control',
  control: true,
};

describe('viewerRow', () => {
  it('offers the owner control and removal of the others', () => {
    expect(viewerRow(watcher, owner)).toEqual({
      label: 'bob@acme.test — watching',
      actions: [
        { text: 'Give control', message: { t: 'control', viewer: 'w', on: true } },
        { text: 'Remove', message: { t: 'remove', viewer: 'w' } },
      ],
    });
    expect(viewerRow(controller, owner).actions.map((a) => a.text)).toEqual([
      'Take control back',
      'Remove',
    ]);
    expect(viewerRow(owner, owner)).toEqual({ label: 'ada@acme.test (you) — owner', actions: [] });
  });

  it('offers the others nothing', () => {
    expect(viewerRow(owner, watcher)).toEqual({ label: 'ada@acme.test — owner', actions: [] });
    expect(viewerRow(watcher, watcher).label).toBe('bob@acme.test (you) — watching');
    expect(viewerRow(watcher, controller).actions).toEqual([]);
    expect(viewerRow(watcher, undefined).actions).toEqual([]);
  });
});

describe('sessionIdOf', () => {
  it('finds the session in a gateway stream page URL, and nothing elsewhere', () => {
    const id = '0190aaaa-0000-7000-8000-000000000001';
    expect(sessionIdOf(`https://gw.test/sessions/${id}/?share=x.y.z`)).toBe(id);
    expect(sessionIdOf('http://127.0.0.1:8080/')).toBeNull();
    expect(sessionIdOf('https://gw.test/sessions/nope/')).toBeNull();
  });
});
