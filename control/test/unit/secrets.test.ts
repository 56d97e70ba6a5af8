import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSecretKey, parseSecretKey, SecretBox } from '../../src/secrets.ts';

const log = pino({ level: 'silent' });
const key = () => Buffer.alloc(32, 7);

describe('SecretBox', () => {
  it('seals with a fresh IV each time and opens only with the same key and context', () => {
    const box = new SecretBox(key());
    const a = box.seal('s3cret', 'tenant-a');
    const b = box.seal('s3cret', 'tenant-a');
    expect(a).not.toBe(b);
    expect(a).not.toContain('s3cret');
    expect(box.open(a, 'tenant-a')).toBe('s3cret');
    expect(box.open(a, 'tenant-b')).toBeNull();
    expect(new SecretBox(Buffer.alloc(32, 8)).open(a, 'tenant-a')).toBeNull();
    const [v, iv, tag, ct] = a.split('.');
    const flipped = Buffer.from(ct!, 'base64url');
    flipped[0]! ^= 1;
    expect(box.open([v, iv, tag, flipped.toString('base64url')].join('.'), 'tenant-a')).toBeNull();
    expect(box.open('garbage', 'tenant-a')).toBeNull();
    expect(box.open('v2.a.b.c', 'tenant-a')).toBeNull();
    expect(box.open(box.seal('', 'x'), 'x')).toBe('');
    expect(box.open(box.seal('ünïcødé ✓', 'x'), 'x')).toBe('ünïcødé ✓');
  });

  it('wants a 32-byte key', () => {
    expect(() => new SecretBox(Buffer.alloc(16))).toThrow(/32 bytes/);
    expect(parseSecretKey(key().toString('base64'))).toEqual(key());
    expect(parseSecretKey(`${key().toString('base64url')}\n`)).toEqual(key());
    expect(parseSecretKey(Buffer.alloc(31).toString('base64'))).toBeNull();
    expect(parseSecretKey('not base64 at all!')).toBeNull();
  });
});

describe('loadSecretKey', () => {
  const root = mkdtempSync(join(tmpdir(), 'floe-key-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('takes FLOE_SECRET_KEY when set', () => {
    const dir = join(root, 'env');
    expect(loadSecretKey({ secretKey: key().toString('base64'), dataDir: dir, log })).toEqual(
      key(),
    );
    expect(() => loadSecretKey({ secretKey: 'short', dataDir: dir, log })).toThrow(/32 bytes/);
  });

  it('generates a key file (0600) at first start and reads it back after', () => {
    const dir = join(root, 'generated', 'nested');
    const first = loadSecretKey({ dataDir: dir, log });
    const file = join(dir, 'secret.key');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(parseSecretKey(readFileSync(file, 'utf8'))).toEqual(first);
    expect(loadSecretKey({ dataDir: dir, log })).toEqual(first);
    writeFileSync(file, 'broken');
    expect(() => loadSecretKey({ dataDir: dir, log })).toThrow(/32-byte key/);
  });
});
