// Values only the gateway may read back (the login state, the IdP's refresh token): JWTs
// encrypted with A256GCM under a key derived for their purpose (see keys.ts). The purpose
// is also the audience, so a value sealed for one use never opens as another.
import { EncryptJWT, type JWTPayload, jwtDecrypt } from 'jose';
import type { GatewayKeys, Purpose } from '../keys.ts';

export async function seal(
  keys: GatewayKeys,
  purpose: Purpose,
  payload: JWTPayload,
  ttlSeconds?: number,
): Promise<string> {
  const { kid, key } = keys.encryptionKey(purpose);
  const jwt = new EncryptJWT(payload)
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid })
    .setAudience(`floe-gateway:${purpose}`)
    .setIssuedAt();
  if (ttlSeconds !== undefined) jwt.setExpirationTime(`${ttlSeconds}s`);
  return jwt.encrypt(key);
}

/** The payload, or null when the value is not one the gateway sealed for `purpose` (or expired). */
export async function unseal(
  keys: GatewayKeys,
  purpose: Purpose,
  token: string,
): Promise<JWTPayload | null> {
  try {
    const { payload } = await jwtDecrypt(
      token,
      (header) => {
        const key = keys.decryptionKey(purpose, header.kid);
        if (!key) throw new Error('unknown key');
        return key;
      },
      {
        audience: `floe-gateway:${purpose}`,
        keyManagementAlgorithms: ['dir'],
        contentEncryptionAlgorithms: ['A256GCM'],
      },
    );
    return payload;
  } catch {
    return null;
  }
}
