// turnserver.conf for Floe's TURN fleet. A relay must never become a door into the network
// it runs in, so every private, loopback, link-local and otherwise non-global peer range is
// denied; only the cluster's pod range(s) are allowed back in (sessions' streamers live there).
import { isIP } from 'node:net';
import { z } from 'zod';
import { cidrToCoturnRange } from './cidr.ts';
import { DENIED_PEER_CIDRS } from './non-public.ts';
import { settingsError } from './settings-error.ts';

export { DENIED_PEER_CIDRS };

/** Loopback, allowed back only in test mode (with coturn's allow-loopback-peers). */
export const LOOPBACK_CIDRS: readonly string[] = ['127.0.0.0/8', '::1/128'];

const ip = z.string().refine((s) => isIP(s) !== 0, { error: 'must be an IPv4 or IPv6 address' });
const port = z.number().int().min(1).max(65_535);
const cidr = z.string().superRefine((text, ctx) => {
  try {
    cidrToCoturnRange(text);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
});
// Values go verbatim into `key=value` lines: no whitespace, '#' or line breaks.
const confValue = z
  .string()
  .min(1)
  .regex(/^[^\s#]+$/, 'must not contain whitespace or #');
// The secret signs every credential; a browser sees username and credential, so a short
// secret falls to an offline search. base64, base64url and hex all fit this alphabet.
const secret = z
  .string()
  .min(16, 'must be at least 16 characters')
  .regex(/^[A-Za-z0-9+/=_.~-]+$/, 'must be base64, base64url or hex text');

export const coturnSettingsSchema = z
  .object({
    /** current secret first; during rotation the previous one second (coturn accepts both) */
    secrets: z.array(secret).min(1, 'needs a secret').max(2, 'takes at most 2: current, previous'),
    realm: z.string().regex(/^[A-Za-z0-9.-]+$/, 'must be a domain name'),
    /** empty: every interface */
    listeningIps: z.array(ip).default([]),
    /** empty: coturn relays from the address the client reached it on */
    relayIps: z.array(ip).default([]),
    /** public address to advertise when behind NAT: `public` or `public/private` */
    externalIp: z
      .string()
      .refine((s) => s.split('/').length <= 2 && s.split('/').every((part) => isIP(part) !== 0), {
        error: 'must be an IP address or public-ip/private-ip',
      })
      .optional(),
    /** TURN over UDP and TCP */
    port: port.default(3478),
    /** TURN over TLS, only with `tls` */
    tlsPort: port.default(443),
    tls: z.object({ certFile: confValue, keyFile: confValue }).optional(),
    relayPorts: z
      .object({ min: port.default(49_152), max: port.default(65_535) })
      .default({ min: 49_152, max: 65_535 })
      .refine((r) => r.min <= r.max, { error: 'min must not exceed max' }),
    /** the cluster's pod range(s), reachable through the relay despite being private */
    allowedPeerRanges: z.array(cidr).default([]),
    /** loopback peers allowed: for tests on one machine, never in production */
    testMode: z.boolean().default(false),
    /** concurrent allocations per username, i.e. per session (0: unlimited) */
    userQuota: z.number().int().min(0).default(12),
    /** concurrent allocations on this server (0: unlimited) */
    totalQuota: z.number().int().min(0).default(5_000),
    /** how long a nonce lives before the client must re-authenticate */
    staleNonceSeconds: z.number().int().min(1).default(600),
    /** Prometheus exporter; coturn must be built with it (see features.ts), false to omit */
    prometheus: z
      .union([z.literal(false), z.object({ port: port.default(9641) })])
      .default({ port: 9641 }),
    pidFile: confValue.optional(),
  })
  .refine((s) => new Set(s.secrets).size === s.secrets.length, {
    error: 'current and previous secret must differ',
    path: ['secrets'],
  })
  .refine((s) => !s.tls || s.tlsPort !== s.port, {
    error: 'tlsPort must differ from port',
    path: ['tlsPort'],
  });

export type CoturnSettingsInput = z.input<typeof coturnSettingsSchema>;
export type CoturnSettings = z.output<typeof coturnSettingsSchema>;

/** Validates settings; the error lists every problem with its path. */
export function parseCoturnSettings(input: unknown): CoturnSettings {
  const result = coturnSettingsSchema.safeParse(input);
  if (!result.success) {
    throw settingsError('TURN settings', result.error);
  }
  return result.data;
}

export function renderCoturnConfig(input: CoturnSettingsInput): string {
  const s = parseCoturnSettings(input);
  const lines: string[] = [
    '# rendered by @floe/turn (renderCoturnConfig); edit the settings instead',
  ];
  const section = (title: string, ...body: string[]) => lines.push('', `# ${title}`, ...body);

  section(
    'listeners: UDP and TCP on one port',
    `listening-port=${s.port}`,
    ...s.listeningIps.map((a) => `listening-ip=${a}`),
    ...s.relayIps.map((a) => `relay-ip=${a}`),
    ...(s.externalIp ? [`external-ip=${s.externalIp}`] : []),
    `min-port=${s.relayPorts.min}`,
    `max-port=${s.relayPorts.max}`,
  );
  // Browsers speak TURNS over TLS/TCP only; a DTLS listener would be unused attack surface.
  section(
    'TLS',
    ...(s.tls
      ? [
          `tls-listening-port=${s.tlsPort}`,
          `cert=${s.tls.certFile}`,
          `pkey=${s.tls.keyFile}`,
          'no-tlsv1',
          'no-tlsv1_1',
        ]
      : ['no-tls']),
    'no-dtls',
  );
  section(
    'authentication: TURN REST credentials, HMAC of "<expiry>:<session>" under a shared secret',
    'use-auth-secret',
    ...s.secrets.map((secret) => `static-auth-secret=${secret}`),
    `realm=${s.realm}`,
    `stale-nonce=${s.staleNonceSeconds}`,
    'fingerprint',
  );
  const allowed = [...s.allowedPeerRanges, ...(s.testMode ? LOOPBACK_CIDRS : [])];
  section(
    'peers: nothing private except the pod range(s); allowed-peer-ip wins over denied-peer-ip',
    'no-multicast-peers',
    // WebRTC relays UDP only; TCP relay (RFC 6062) would let clients open TCP connections.
    'no-tcp-relay',
    // coturn refuses loopback peers before it looks at allowed-peer-ip.
    ...(s.testMode ? ['allow-loopback-peers'] : []),
    ...DENIED_PEER_CIDRS.map((c) => `denied-peer-ip=${cidrToCoturnRange(c)}`),
    ...allowed.map((c) => `allowed-peer-ip=${cidrToCoturnRange(c)}`),
  );
  section('limits', `user-quota=${s.userQuota}`, `total-quota=${s.totalQuota}`);
  section(
    'hardening: smaller STUN responses (less amplification), no version banner, no admin CLI',
    'no-rfc5780',
    'no-stun-backward-compatibility',
    'no-software-attribute',
    'no-cli',
  );
  section(
    'operations',
    'log-file=stdout',
    'simple-log',
    ...(s.pidFile ? [`pidfile=${s.pidFile}`] : []),
    ...(s.prometheus ? ['prometheus', `prometheus-port=${s.prometheus.port}`] : []),
  );
  return `${lines.join('\n')}\n`;
}
