// Secrets at rest (the identity providers' client secrets): AES-256-GCM under one key.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';

export const SECRET_KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const VERSION = 'v1';

/** The key as FLOE_SECRET_KEY holds it: 32 bytes in base64 (or base64url). */
export function parseSecretKey(text: string): Buffer | null {
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) return null;
  const key = Buffer.from(trimmed, 'base64');
  return key.length === SECRET_KEY_BYTES ? key : null;
}

/**
 * Seals and opens short secrets. A sealed value is `v1.<iv>.<tag>.<ciphertext>` (base64url),
 * bound to its context (e.g. the tenant it belongs to) as additional authenticated data, so
 * that a sealed value copied into another row does not open there.
 */
export class SecretBox {
  private readonly key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== SECRET_KEY_BYTES) throw new Error('the secret key must be 32 bytes');
    this.key = key;
  }

  seal(plaintext: string, context: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(context));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [VERSION, iv, tag, ciphertext]
      .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
      .join('.');
  }

  /** The plaintext, or null when the value was sealed under another key or context. */
  open(sealed: string, context: string): string | null {
    const [version, iv, tag, ciphertext] = sealed.split('.');
    if (version !== VERSION || iv === undefined || tag === undefined || ciphertext === undefined) {
      return null;
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'), {
        authTagLength: TAG_BYTES,
      });
      decipher.setAAD(Buffer.from(context));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([
        decipher.update(Buffer.from(ciphertext, 'base64url')),
        decipher.final(),
      ]).toString('utf8');
    } catch {
      return null;
    }
  }
}

/**
 * The key of the secrets at rest: FLOE_SECRET_KEY when set, else `<dataDir>/secret.key`,
 * generated (mode 0600) at first start. Replicas sharing one database must share the key:
 * set FLOE_SECRET_KEY on each of them.
 */
export function loadSecretKey(opts: { secretKey?: string; dataDir: string; log: Logger }): Buffer {
  if (opts.secretKey) {
    const key = parseSecretKey(opts.secretKey);
    if (!key) throw new Error('FLOE_SECRET_KEY must be 32 bytes in base64');
    return key;
  }
  const path = join(opts.dataDir, 'secret.key');
  mkdirSync(opts.dataDir, { recursive: true });
  const fresh = randomBytes(SECRET_KEY_BYTES);
  try {
    // 'wx': never overwrite a key another process wrote meanwhile
    writeFileSync(path, `${fresh.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(path, 0o600); // the umask may have narrowed it, never widened; be explicit
    opts.log.warn(
      { path },
      'generated the key that encrypts secrets at rest in %s; keep it (without it the stored ' +
        'identity-provider client secrets cannot be read), or set FLOE_SECRET_KEY',
      path,
    );
    return fresh;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const key = parseSecretKey(readFileSync(path, 'utf8'));
  if (!key) throw new Error(`${path} does not hold a 32-byte key in base64`);
  if ((statSync(path).mode & 0o077) !== 0) {
    opts.log.warn({ path }, '%s is readable by other users; chmod 600 it', path);
  }
  return key;
}
