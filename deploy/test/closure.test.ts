import { describe, expect, it } from 'vitest';
import { candidates, type LockEntry, productionClosure } from '../images/closure.ts';

describe('candidates', () => {
  it.each([
    ['operator', 'zod', ['operator/node_modules/zod', 'node_modules/zod']],
    ['node_modules/a', 'b', ['node_modules/a/node_modules/b', 'node_modules/b']],
    [
      'node_modules/a/node_modules/b',
      'c',
      [
        'node_modules/a/node_modules/b/node_modules/c',
        'node_modules/a/node_modules/c',
        'node_modules/c',
      ],
    ],
    ['', 'x', ['node_modules/x']],
  ])('from %j, %j is looked for in %j', (from, name, expected) => {
    expect(candidates(from, name)).toEqual(expected);
  });
});

describe('productionClosure', () => {
  const lock: Record<string, LockEntry> = {
    '': { dependencies: {} },
    app: {
      dependencies: { a: '^1', '@floe/lib': '*' },
      optionalDependencies: { 'not-here': '^1' },
      peerDependencies: { p: '^1', q: '^1' },
      peerDependenciesMeta: { q: { optional: true } },
    },
    'app/node_modules/a': { version: '2.0.0', dependencies: { b: '^1' } },
    'node_modules/a': { version: '1.0.0' },
    'node_modules/b': { version: '1.0.0', dependencies: { c: '^1' } },
    'node_modules/b/node_modules/c': { version: '3.0.0' },
    'node_modules/c': { version: '1.0.0' },
    'node_modules/p': { version: '1.0.0' },
    'node_modules/dev-only': { version: '1.0.0', dev: true },
    'node_modules/@floe/lib': { resolved: 'lib', link: true },
    'node_modules/@floe/app': { resolved: 'app', link: true },
    lib: { dependencies: { c: '^1' } },
  };

  it('follows dependencies as Node resolves them, workspaces through their links', () => {
    expect(productionClosure(lock, 'app')).toEqual({
      // the nearer a@2 wins; c@3 nested under b; c@1 for lib; no dev-only, no optional peer q
      packages: [
        'app/node_modules/a',
        'node_modules/b',
        'node_modules/b/node_modules/c',
        'node_modules/c',
        'node_modules/p',
      ],
      workspaces: ['app', 'lib'],
      links: { 'node_modules/@floe/lib': 'lib' },
    });
  });

  it('says which required dependency is missing', () => {
    const broken = { ...lock, lib: { dependencies: { gone: '^1' } } };
    expect(() => productionClosure(broken, 'app')).toThrow('lib needs gone');
  });

  it('refuses a folder that is no workspace', () => {
    expect(() => productionClosure(lock, 'nope')).toThrow('nope is not a workspace');
  });
});
