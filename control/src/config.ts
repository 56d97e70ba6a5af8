import { z } from 'zod';
import { parseSecretKey } from './secrets.ts';

const ConfigSchema = z
  .object({
    PORT: z.coerce.number().int().min(0).max(65_535).default(8080),
    HOST: z.string().default('127.0.0.1'),
    DATABASE_URL: z.url().optional(),
    FLOE_DATA_DIR: z.string().default('.floe'),
    FLOE_ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
    // accepted as the regional gateways' API key (role gateway), for installs that configure
    // both ends at once (the Helm chart); otherwise a gateway key is made through the API
    FLOE_GATEWAY_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
    FLOE_REGION: z.string().default('local'),
    // true: this control plane registers the `local` cluster and runs sessions as sandboxed
    // processes of this machine (npm start does); off by default, as a production control
    // plane runs sessions on Kubernetes clusters only
    FLOE_LOCAL_CLUSTER: z.enum(['true', 'false']).default('false'),
    // when the control plane runs as root: the unprivileged user local sessions' apps run as
    FLOE_LOCAL_SESSION_UID: z.coerce.number().int().min(1).max(4_294_967_294).default(64_000),
    FLOE_LOCAL_MAX_SESSIONS: z.coerce.number().int().positive().default(16),
    // GPUs the local runner offers, e.g. "l4:1,a100:2" on a workstation with GPUs
    FLOE_LOCAL_GPUS: z
      .string()
      .regex(/^([a-z0-9-]+:\d+)?(,[a-z0-9-]+:\d+)*$/, 'a list like "l4:1,a100:2"')
      .default('')
      .transform((s) =>
        s
          .split(',')
          .filter(Boolean)
          .map((pair) => {
            const [sku, count] = pair.split(':');
            return { sku: sku as string, count: Number(count) };
          }),
      ),
    // how often the GPU-hour quotas are enforced on running sessions
    FLOE_SWEEP_INTERVAL_MS: z.coerce.number().int().min(100).default(10_000),
    // how often the session sync loop looks at every session again, beside the events that
    // trigger it (a safety net, as controller-runtime's resync: nothing waits for it)
    FLOE_SESSION_RESYNC_MS: z.coerce.number().int().min(100).default(300_000),
    // on: the local runner gives each session an X display and a streamer (the endpoint);
    // off: it runs the app's command alone (no display), which tests of the lifecycle use
    FLOE_LOCAL_STREAMING: z.enum(['on', 'off']).default('on'),
    // how often the local runner asks each streaming session with an idle timeout for its
    // user's last input: an idle stop lands at most this long after its deadline
    FLOE_LOCAL_IDLE_CHECK_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
    // how long before an idle or lifetime stop the people watching a session are warned
    // (streamer/src/idle-warning.ts; half the timeout when that is shorter; 0: never)
    FLOE_SHUTDOWN_WARNING_SECONDS: z.coerce.number().int().min(0).max(86_400).default(60),
    // TURN servers the sessions' streamers offer browsers, and the secret their credentials use
    FLOE_TURN_URLS: z.string().default(''),
    FLOE_TURN_SECRET: z.string().optional(),
    // the longest a TURN credential minted for a local session lasts (sessions whose app has a
    // shorter maxLifetimeSeconds get that); the secret itself never reaches a session
    FLOE_TURN_TTL_SECONDS: z.coerce
      .number()
      .int()
      .min(60)
      .max(7 * 86_400)
      .default(86_400),
    FLOE_DB_POOL_SIZE: z.coerce.number().int().positive().default(10),
    // the longest wait between retries while a Kubernetes cluster is unreachable (the first
    // retry comes after 250 ms, each next after twice as long)
    FLOE_KUBE_RETRY_MAX_MS: z.coerce.number().int().min(250).max(300_000).default(10_000),
    LOG_LEVEL: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info'),
    // encrypts secrets at rest (identity providers' client secrets): 32 bytes, base64; when
    // unset, one is generated at first start into $FLOE_DATA_DIR/secret.key (mode 0600)
    FLOE_SECRET_KEY: z
      .string()
      .refine(
        (s) => parseSecretKey(s) !== null,
        'must be 32 bytes in base64 (openssl rand -base64 32)',
      )
      .optional(),
    // the gateways' identity tokens (ES256 JWTs, audience floe-control) are verified against
    // this JWKS and issuer; without them only API keys are accepted
    FLOE_GATEWAY_JWKS_URL: z.url({ protocol: /^https?$/ }).optional(),
    FLOE_GATEWAY_ISSUER: z.string().min(1).optional(),
    // development mode for identity providers: on accepts plain-http issuers and loopback or
    // private hosts (a provider on this machine); off (production) only https on public hosts
    FLOE_DEV_INSECURE_ISSUERS: z.enum(['on', 'off']).default('off'),
    // webhooks may target loopback, private and link-local addresses: on only where the
    // receivers are on this machine or network (development, tests); off: public only
    FLOE_WEBHOOK_ALLOW_PRIVATE: z.enum(['on', 'off']).default('off'),
    // the cluster's own ranges (pod, service, node CIDRs), comma-separated: webhooks never
    // reach them, even when FLOE_WEBHOOK_ALLOW_PRIVATE is on
    FLOE_WEBHOOK_DENY_CIDRS: z
      .string()
      .default('')
      .transform((s) =>
        s
          .split(',')
          .map((c) => c.trim())
          .filter(Boolean),
      )
      .pipe(
        z.array(z.union([z.cidrv4(), z.cidrv6()], { error: 'a CIDR block, e.g. 10.96.0.0/12' })),
      ),
    // how often the delivery worker looks for due webhooks when the last look found none
    FLOE_WEBHOOK_POLL_MS: z.coerce.number().int().min(10).max(60_000).default(250),
    // session launches a minute for each user signed in through a gateway, across all
    // replicas (a token bucket in the database); off: none (the quotas still apply)
    FLOE_LAUNCHES_PER_USER_PER_MINUTE: z
      .union([z.literal('off'), z.coerce.number().int().min(1).max(10_000)])
      .default(10),
    // billing periods close by themselves this many hours after they end (late usage within
    // it still lands in its own month; after it, as an adjustment in the next); off: only
    // when an admin closes them
    FLOE_BILLING_AUTO_CLOSE_HOURS: z
      .union([z.literal('off'), z.coerce.number().int().min(0).max(2_160)])
      .default(72),
    // how often a replica looks for periods to close (the first look comes one interval
    // after start)
    FLOE_BILLING_CLOSE_CHECK_MS: z.coerce.number().int().min(1_000).default(3_600_000),
    // off: this replica sends no webhooks (another one does); events are still queued
    FLOE_WEBHOOK_WORKER: z.enum(['on', 'off']).default('on'),
  })
  .superRefine((c, ctx) => {
    if (c.FLOE_GATEWAY_TOKEN && c.FLOE_GATEWAY_TOKEN === c.FLOE_ADMIN_TOKEN) {
      ctx.addIssue({
        code: 'custom',
        path: ['FLOE_GATEWAY_TOKEN'],
        message: 'must differ from FLOE_ADMIN_TOKEN',
      });
    }
    if (Boolean(c.FLOE_GATEWAY_JWKS_URL) !== Boolean(c.FLOE_GATEWAY_ISSUER)) {
      ctx.addIssue({
        code: 'custom',
        path: [c.FLOE_GATEWAY_JWKS_URL ? 'FLOE_GATEWAY_ISSUER' : 'FLOE_GATEWAY_JWKS_URL'],
        message: 'FLOE_GATEWAY_JWKS_URL and FLOE_GATEWAY_ISSUER are set together',
      });
    }
  });

export type Config = z.infer<typeof ConfigSchema>;

/** Parses the environment once; a bad value stops the start with a message naming it. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = ConfigSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}
