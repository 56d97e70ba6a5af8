import { randomBytes } from 'node:crypto';

/** A Standard Webhooks signing secret: `whsec_` and 32 random bytes in base64. */
export const newWebhookSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

/** The context a secret is sealed under: it opens only in its own endpoint's row. */
export const webhookSecretContext = (endpointId: string) => `webhook-endpoint:${endpointId}`;
