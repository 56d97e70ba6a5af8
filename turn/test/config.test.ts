import { describe, expect, it } from 'vitest';
import { parseCidr, parseIp } from '../src/cidr.ts';
import {
  type CoturnSettingsInput,
  DENIED_PEER_CIDRS,
  parseCoturnSettings,
  renderCoturnConfig,
} from '../src/config.ts';
import { parseCoturnHelp } from '../src/features.ts';

const SECRET = 'c3VwZXItc2VjcmV0LWN1cnJlbnQ';
const OLD_SECRET = 'c3VwZXItc2VjcmV0LXByZXZpb3Vz';
const BASE: CoturnSettingsInput = { secrets: [SECRET], realm: 'turn.floe.example' };

const lines = (config: string) => config.split('\n');
const values = (config: string, key: string) =>
  lines(config)
    .filter((l) => l.startsWith(`${key}=`))
    .map((l) => l.slice(key.length + 1));

describe('renderCoturnConfig', () => {
  it('renders the production defaults', () => {
    const config = renderCoturnConfig({ ...BASE, allowedPeerRanges: ['10.244.0.0/16'] });
    const body = lines(config);
    for (const flag of [
      'use-auth-secret',
      'fingerprint',
      'no-tls',
      'no-dtls',
      'no-cli',
      'no-multicast-peers',
      'no-tcp-relay',
      'simple-log',
      'prometheus',
    ]) {
      expect(body).toContain(flag);
    }
    expect(values(config, 'static-auth-secret')).toEqual([SECRET]);
    expect(values(config, 'realm')).toEqual(['turn.floe.example']);
    expect(values(config, 'listening-port')).toEqual(['3478']);
    expect(values(config, 'min-port')).toEqual(['49152']);
    expect(values(config, 'max-port')).toEqual(['65535']);
    expect(values(config, 'user-quota')).toEqual(['12']);
    expect(values(config, 'total-quota')).toEqual(['5000']);
    expect(values(config, 'stale-nonce')).toEqual(['600']);
    expect(values(config, 'log-file')).toEqual(['stdout']);
    expect(values(config, 'prometheus-port')).toEqual(['9641']);
    expect(values(config, 'allowed-peer-ip')).toEqual(['10.244.0.0-10.244.255.255']);
    expect(values(config, 'listening-ip')).toEqual([]);
    // neither UDP nor TCP is switched off, and nothing opens loopback
    for (const absent of ['no-udp', 'no-tcp', 'allow-loopback-peers', 'tls-listening-port']) {
      expect(body).not.toContain(absent);
    }
    expect(config.match(/^tls-listening-port=/m)).toBeNull();
  });

  it('denies every private, loopback, link-local, CGNAT, multicast and ULA range', () => {
    const denied = values(renderCoturnConfig(BASE), 'denied-peer-ip');
    expect(denied).toEqual(
      expect.arrayContaining([
        '10.0.0.0-10.255.255.255',
        '172.16.0.0-172.31.255.255',
        '192.168.0.0-192.168.255.255',
        '127.0.0.0-127.255.255.255',
        '169.254.0.0-169.254.255.255',
        '100.64.0.0-100.127.255.255',
        '224.0.0.0-239.255.255.255',
        '0.0.0.1-0.255.255.255',
        '::1',
        'fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
        'fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
        'ff00::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
      ]),
    );
    expect(denied).toHaveLength(DENIED_PEER_CIDRS.length);
  });

  it('denies IPv6 addresses that carry a private IPv4 address (mapped, NAT64, 6to4)', () => {
    const denied = DENIED_PEER_CIDRS.map(parseCidr);
    const isDenied = (address: string) => {
      const { family, value } = parseIp(address);
      return denied.some((r) => r.family === family && r.first <= value && value <= r.last);
    };
    for (const address of [
      '::ffff:10.0.0.1',
      '64:ff9b::10.0.0.1', // the well-known NAT64 prefix, to 10.0.0.1
      '64:ff9b::169.254.169.254', // cloud metadata through NAT64
      '64:ff9b:1::a00:1',
      '2002:a00:1::1', // 6to4 of 10.0.0.1
    ]) {
      expect(isDenied(address), address).toBe(true);
    }
    expect(isDenied('2001:4860:4860::8888')).toBe(false); // a public address stays reachable
  });

  it('takes the previous secret second during rotation', () => {
    const config = renderCoturnConfig({ ...BASE, secrets: [SECRET, OLD_SECRET] });
    expect(values(config, 'static-auth-secret')).toEqual([SECRET, OLD_SECRET]);
  });

  it('opens loopback only in test mode', () => {
    const config = renderCoturnConfig({ ...BASE, testMode: true });
    expect(lines(config)).toContain('allow-loopback-peers');
    expect(values(config, 'allowed-peer-ip')).toEqual(['127.0.0.0-127.255.255.255', '::1']);
  });

  it('serves TURNS on the TLS port when given a certificate', () => {
    const config = renderCoturnConfig({
      ...BASE,
      tls: { certFile: '/etc/turn/tls.crt', keyFile: '/etc/turn/tls.key' },
    });
    expect(values(config, 'tls-listening-port')).toEqual(['443']);
    expect(values(config, 'cert')).toEqual(['/etc/turn/tls.crt']);
    expect(values(config, 'pkey')).toEqual(['/etc/turn/tls.key']);
    expect(lines(config)).not.toContain('no-tls');
    expect(lines(config)).toContain('no-tlsv1');
  });

  it('renders addresses, ports, quotas and the exporter as given', () => {
    const config = renderCoturnConfig({
      ...BASE,
      listeningIps: ['203.0.113.10', '2001:db8::10'],
      relayIps: ['203.0.113.10'],
      externalIp: '198.51.100.7/203.0.113.10',
      port: 3479,
      relayPorts: { min: 50_000, max: 50_999 },
      userQuota: 4,
      totalQuota: 100,
      prometheus: false,
      pidFile: '/run/turnserver.pid',
    });
    expect(values(config, 'listening-ip')).toEqual(['203.0.113.10', '2001:db8::10']);
    expect(values(config, 'relay-ip')).toEqual(['203.0.113.10']);
    expect(values(config, 'external-ip')).toEqual(['198.51.100.7/203.0.113.10']);
    expect(values(config, 'listening-port')).toEqual(['3479']);
    expect(values(config, 'min-port')).toEqual(['50000']);
    expect(values(config, 'max-port')).toEqual(['50999']);
    expect(values(config, 'user-quota')).toEqual(['4']);
    expect(values(config, 'total-quota')).toEqual(['100']);
    expect(values(config, 'pidfile')).toEqual(['/run/turnserver.pid']);
    expect(lines(config)).not.toContain('prometheus');
  });
});

describe('settings validation', () => {
  it.each<[string, Partial<CoturnSettingsInput>, RegExp]>([
    ['no secret', { secrets: [] }, /secrets: needs a secret/],
    ['three secrets', { secrets: [SECRET, OLD_SECRET, `${SECRET}x`] }, /secrets: takes at most 2/],
    ['a short secret', { secrets: ['tooshort'] }, /secrets\[0\]: must be at least 16 characters/],
    [
      'a secret with a newline',
      { secrets: [`${SECRET}\nno-auth`] },
      /secrets\[0\]: must be base64/,
    ],
    [
      'twice the same secret',
      { secrets: [SECRET, SECRET] },
      /secrets: current and previous secret must differ/,
    ],
    ['a realm with a space', { realm: 'floe example' }, /realm: must be a domain name/],
    [
      'a bad listening IP',
      { listeningIps: ['10.0.0.256'] },
      /listeningIps\[0\]: must be an IPv4 or IPv6 address/,
    ],
    ['a hostname as relay IP', { relayIps: ['turn.example'] }, /relayIps\[0\]: must be an IPv4/],
    [
      'a bad external IP',
      { externalIp: '1.2.3.4/5.6.7' },
      /externalIp: must be an IP address or public-ip\/private-ip/,
    ],
    ['port 0', { port: 0 }, /port: Too small/],
    ['port 65536', { port: 65_536 }, /port: Too big/],
    ['a fractional port', { port: 3478.5 }, /port: .*expected int/],
    [
      'min above max',
      { relayPorts: { min: 60_000, max: 50_000 } },
      /relayPorts: min must not exceed max/,
    ],
    [
      'a pod range with host bits',
      { allowedPeerRanges: ['10.244.1.0/16'] },
      /allowedPeerRanges\[0\]: .* did you mean 10\.244\.0\.0\/16/,
    ],
    [
      'a pod range that is no CIDR',
      { allowedPeerRanges: ['10.244.0.0'] },
      /allowedPeerRanges\[0\]: .* not a CIDR block/,
    ],
    ['a negative quota', { userQuota: -1 }, /userQuota: Too small/],
    [
      'a key file with a space',
      { tls: { certFile: '/a b', keyFile: '/k' } },
      /tls\.certFile: must not contain whitespace/,
    ],
    [
      'TLS on the TURN port',
      { port: 443, tlsPort: 443, tls: { certFile: '/c', keyFile: '/k' } },
      /tlsPort: tlsPort must differ from port/,
    ],
  ])('refuses %s', (_, change, error) => {
    expect(() => renderCoturnConfig({ ...BASE, ...change })).toThrow(error);
  });

  it('lists every problem at once', () => {
    let message = '';
    try {
      parseCoturnSettings({ secrets: ['x'], realm: '', port: -1 });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message.split('\n').sort()).toEqual([
      '  port: Too small: expected number to be >=1',
      '  realm: must be a domain name',
      '  secrets[0]: must be at least 16 characters',
      'invalid TURN settings:',
    ]);
  });
});

describe('parseCoturnHelp', () => {
  it('finds the Prometheus exporter only in builds that list it', () => {
    const withExporter = ' --prometheus\t\tEnable prometheus metrics.\n --prometheus-port <port>';
    expect(parseCoturnHelp(withExporter, '4.6.2')).toEqual({ version: '4.6.2', prometheus: true });
    expect(parseCoturnHelp(' --no-cli\t\tTurn OFF the CLI support.', '4.6.1\n')).toEqual({
      version: '4.6.1',
      prometheus: false,
    });
  });
});
