// The gateway's keys: ES256 key pairs from FLOE_GATEWAY_KEYS (or one generated at start).
// The first signs; every one is published and verifies, so that after a rotation the
// cookies and identity tokens signed with the previous key stay valid until they expire.
// Symmetric keys for encrypting (login state, refresh tokens) are derived from each private
// key with HKDF under a label per purpose: one secret to configure and rotate, and a key
// per use that reveals nothing about the signing key or the other uses.
import { hkdfSync } from 'node:crypto';
import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JSONWebKeySet,
  type JWK,
} from 'jose';
import { z } from 'zod';

const PrivateJwk = z.object({
  kty: z.literal('EC'),
  crv: z.literal('P-256'),
  x: z.string().min(1),
  y: z.string().min(1),
  d: z.string().min(1, 'a private key (d) is required'),
  kid: z.string().min(1).optional(),
  alg: z.literal('ES256').optional(),
});

const Jwks = z.object({ keys: z.array(PrivateJwk).min(1, 'needs at least one key') });

export type Purpose = 'login-state' | 'refresh-token' | 'renewal';

interface KeyEntry {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
  secret: Buffer;
}

export interface GatewayKeys {
  /** kid and key that sign */
  signing: { kid: string; privateKey: CryptoKey };
  /** the public keys, as served at /.well-known/jwks.json */
  jwks: JSONWebKeySet;
  /** verifies any of the keys (jose's key resolver) */
  verify: ReturnType<typeof createLocalJWKSet>;
  /** the symmetric key for `purpose` derived from the signing key */
  encryptionKey(purpose: Purpose): { kid: string; key: Uint8Array };
  /** the symmetric key for `purpose` derived from key `kid`, if the gateway has it */
  decryptionKey(purpose: Purpose, kid: string | undefined): Uint8Array | undefined;
}

function derive(secret: Buffer, purpose: Purpose): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', secret, 'floe-gateway', `floe ${purpose} v1`, 32));
}

async function entry(jwk: z.infer<typeof PrivateJwk>): Promise<KeyEntry> {
  const { kty, crv, x, y } = jwk;
  const kid = jwk.kid ?? (await calculateJwkThumbprint({ kty, crv, x, y }));
  const privateKey = (await importJWK({ kty, crv, x, y, d: jwk.d }, 'ES256')) as CryptoKey;
  return {
    kid,
    privateKey,
    publicJwk: { kty, crv, x, y, kid, alg: 'ES256', use: 'sig' },
    secret: Buffer.from(jwk.d, 'base64url'),
  };
}

/** A new key as FLOE_GATEWAY_KEYS holds it (a JWKS with one private key). */
export async function generateKeySet(): Promise<{ keys: JWK[] }> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  const { kty, crv, x, y } = jwk;
  const kid = await calculateJwkThumbprint({ kty, crv, x, y } as JWK);
  return { keys: [{ ...jwk, kid, alg: 'ES256', use: 'sig' }] };
}

/** Reads FLOE_GATEWAY_KEYS; without it, generates one key (good for one replica only). */
export async function loadKeys(text: string | undefined): Promise<GatewayKeys> {
  let raw: unknown;
  try {
    raw = JSON.parse(text ?? JSON.stringify(await generateKeySet()));
  } catch {
    throw new Error('invalid configuration:\n  FLOE_GATEWAY_KEYS: is not JSON');
  }
  const parsed = Jwks.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(
      `invalid configuration:\n  FLOE_GATEWAY_KEYS: ${issue?.path.join('.')}: ${issue?.message}`,
    );
  }
  const entries = await Promise.all(parsed.data.keys.map(entry));
  if (new Set(entries.map((e) => e.kid)).size !== entries.length) {
    throw new Error('invalid configuration:\n  FLOE_GATEWAY_KEYS: key ids (kid) must be unique');
  }
  const byKid = new Map(entries.map((e) => [e.kid, e]));
  const current = entries[0] as KeyEntry;
  const jwks = { keys: entries.map((e) => e.publicJwk) };
  return {
    signing: { kid: current.kid, privateKey: current.privateKey },
    jwks,
    verify: createLocalJWKSet(jwks),
    encryptionKey: (purpose) => ({ kid: current.kid, key: derive(current.secret, purpose) }),
    decryptionKey: (purpose, kid) => {
      const found = kid ? byKid.get(kid) : undefined;
      return found && derive(found.secret, purpose);
    },
  };
}
