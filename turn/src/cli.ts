// node turn/src/cli.ts config|credentials|probe|features [options] | --help
import { readFileSync, writeFileSync } from 'node:fs';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { type CoturnSettingsInput, renderCoturnConfig } from './config.ts';
import { mintTurnCredentials } from './credentials.ts';
import { DEFAULT_TURNSERVER, detectCoturnFeatures } from './features.ts';
import { probeTurnServer } from './probe.ts';
import { parseTurnUrl } from './turn-url.ts';

export const HELP = `Usage: npx node turn/src/cli.ts <command> [options]

Commands:
  config        print a turnserver.conf for Floe's TURN fleet
  credentials   mint TURN REST credentials for a session; prints JSON
  probe         allocate on a TURN server and release it; prints JSON, exits 1 when unhealthy
  features      what the installed turnserver was built with; prints JSON

Secrets (config, credentials, probe):
  --secret S            the shared secret; config takes two during rotation: current, previous
  --secret-file F       read a secret from a file instead, keeping it out of the process list

config:
  --realm R             TURN realm (required)
  --listening-ip IP     repeatable; default: every interface
  --relay-ip IP         repeatable; default: the address a client reached
  --external-ip IP[/PRIVATE-IP]   public address when behind NAT
  --port N              TURN over UDP and TCP (default 3478)
  --tls-cert F, --tls-key F       enable TURNS on --tls-port (default 443)
  --tls-port N
  --min-port N, --max-port N      relay port range (default 49152-65535)
  --pod-cidr C          repeatable: a private range peers may be in (the cluster's pods)
  --user-quota N        allocations per session (default 12)
  --total-quota N       allocations per server (default 5000)
  --prometheus-port N   exporter port (default 9641)
  --no-prometheus       no exporter: Debian's coturn is built without it (see features)
  --test-mode           allow loopback peers: tests on one machine only
  --pid-file F
  --out F               write the config to F (mode 0600: it holds the secret) instead of
                        stdout; an image without a shell cannot redirect

credentials:
  --session ID          the session the credential is for (required; no ':')
  --ttl SECONDS         lifetime (default 600)

probe:
  --url U               turn:host:port?transport=udp|tcp or turns:host:port (required)
  --timeout MS          for the whole probe (default 5000)
  --ca F                PEM CA certificate for turns: with a private CA

features:
  --turnserver PATH     default ${DEFAULT_TURNSERVER}

Exit status: 0 done, 1 probe unhealthy or failure, 2 bad command line.`;

/** A mistake on the command line: exit status 2. */
export class UsageError extends Error {}

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

const SECRET_OPTIONS = {
  secret: { type: 'string', multiple: true },
  'secret-file': { type: 'string', multiple: true },
} as const;

const COMMANDS = {
  config: {
    ...SECRET_OPTIONS,
    realm: { type: 'string' },
    'listening-ip': { type: 'string', multiple: true },
    'relay-ip': { type: 'string', multiple: true },
    'external-ip': { type: 'string' },
    port: { type: 'string' },
    'tls-port': { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'min-port': { type: 'string' },
    'max-port': { type: 'string' },
    'pod-cidr': { type: 'string', multiple: true },
    'user-quota': { type: 'string' },
    'total-quota': { type: 'string' },
    'prometheus-port': { type: 'string' },
    'no-prometheus': { type: 'boolean' },
    'test-mode': { type: 'boolean' },
    'pid-file': { type: 'string' },
    out: { type: 'string' },
  },
  credentials: { ...SECRET_OPTIONS, session: { type: 'string' }, ttl: { type: 'string' } },
  probe: {
    ...SECRET_OPTIONS,
    url: { type: 'string' },
    timeout: { type: 'string' },
    ca: { type: 'string' },
  },
  features: { turnserver: { type: 'string' } },
} satisfies Record<string, NonNullable<ParseArgsConfig['options']>>;

type Command = keyof typeof COMMANDS;

export async function main(argv: readonly string[], io: Io): Promise<number> {
  if (argv.length === 0 || argv.includes('--help') || argv.includes('-h')) {
    (argv.length === 0 ? io.err : io.out)(`${HELP}\n`);
    return argv.length === 0 ? 2 : 0;
  }
  try {
    const [command = '', ...rest] = argv;
    if (!(command in COMMANDS)) throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    return await run(command as Command, rest, io);
  } catch (err) {
    const usage = err instanceof UsageError || isParseArgsError(err);
    io.err(`error: ${(err as Error).message}\n${usage ? 'See --help.\n' : ''}`);
    return usage ? 2 : 1;
  }
}

async function run(command: Command, args: string[], io: Io): Promise<number> {
  const { values: v } = parseArgs({ args, options: COMMANDS[command], strict: true });
  const flags = v as Record<string, string | string[] | boolean | undefined>;
  switch (command) {
    case 'config': {
      const settings: CoturnSettingsInput = {
        secrets: secrets(flags),
        realm: required(flags, 'realm'),
        listeningIps: list(flags, 'listening-ip'),
        relayIps: list(flags, 'relay-ip'),
        externalIp: text(flags, 'external-ip'),
        port: int(flags, 'port'),
        tlsPort: int(flags, 'tls-port'),
        tls: tls(flags),
        relayPorts: relayPorts(flags),
        allowedPeerRanges: list(flags, 'pod-cidr'),
        userQuota: int(flags, 'user-quota'),
        totalQuota: int(flags, 'total-quota'),
        prometheus: flags['no-prometheus'] ? false : { port: int(flags, 'prometheus-port') },
        testMode: flags['test-mode'] === true,
        pidFile: text(flags, 'pid-file'),
      };
      const config = validated(() => renderCoturnConfig(settings));
      const out = text(flags, 'out');
      if (out === undefined) io.out(config);
      else writeFileSync(out, config, { mode: 0o600 });
      return 0;
    }
    case 'credentials': {
      const [secret] = single(secrets(flags), 'secret');
      const creds = validated(() =>
        mintTurnCredentials({
          secret,
          sessionId: required(flags, 'session'),
          ttlSeconds: int(flags, 'ttl'),
        }),
      );
      io.out(`${JSON.stringify(creds, null, 2)}\n`);
      return 0;
    }
    case 'probe': {
      const [secret] = single(secrets(flags), 'secret');
      const url = required(flags, 'url');
      validated(() => parseTurnUrl(url));
      const caFile = text(flags, 'ca');
      const creds = mintTurnCredentials({ secret, sessionId: 'floe-cli-probe', ttlSeconds: 120 });
      const result = await probeTurnServer({
        url,
        ...creds,
        timeoutMs: int(flags, 'timeout'),
        ca: caFile === undefined ? undefined : readFlagFile('--ca', caFile),
      });
      io.out(`${JSON.stringify({ url, ...result })}\n`);
      return result.ok ? 0 : 1;
    }
    case 'features': {
      const features = detectCoturnFeatures(text(flags, 'turnserver'));
      io.out(`${JSON.stringify(features)}\n`);
      return 0;
    }
  }
}

type Flags = Record<string, string | string[] | boolean | undefined>;

function text(flags: Flags, name: string): string | undefined {
  const value = flags[name];
  return typeof value === 'string' ? value : undefined;
}

function required(flags: Flags, name: string): string {
  const value = text(flags, name);
  if (value === undefined || value === '') throw new UsageError(`--${name} is required`);
  return value;
}

function list(flags: Flags, name: string): string[] | undefined {
  const value = flags[name];
  return Array.isArray(value) ? value : undefined;
}

function int(flags: Flags, name: string): number | undefined {
  const value = text(flags, name);
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value))
    throw new UsageError(`--${name} must be a whole number, got ${JSON.stringify(value)}`);
  return Number(value);
}

function secrets(flags: Flags): string[] {
  const files = (list(flags, 'secret-file') ?? []).map((f) =>
    readFlagFile('--secret-file', f).trim(),
  );
  const all = [...(list(flags, 'secret') ?? []), ...files];
  if (all.length === 0) throw new UsageError('--secret or --secret-file is required');
  return all;
}

function single(values: string[], name: string): [string] {
  if (values.length !== 1)
    throw new UsageError(`give one --${name} (or --${name}-file), not ${values.length}`);
  return values as [string];
}

function tls(flags: Flags): { certFile: string; keyFile: string } | undefined {
  const certFile = text(flags, 'tls-cert');
  const keyFile = text(flags, 'tls-key');
  if (certFile === undefined && keyFile === undefined) return undefined;
  if (certFile === undefined || keyFile === undefined) {
    throw new UsageError('--tls-cert and --tls-key go together');
  }
  return { certFile, keyFile };
}

function relayPorts(flags: Flags): { min?: number; max?: number } | undefined {
  const min = int(flags, 'min-port');
  const max = int(flags, 'max-port');
  return min === undefined && max === undefined ? undefined : { min, max };
}

function readFlagFile(flag: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${flag} ${file}: ${(err as Error).message}`);
  }
}

/** Runs fn; its errors are about the values given, so they are usage errors. */
function validated<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function isParseArgsError(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_');
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2), {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
  });
}
