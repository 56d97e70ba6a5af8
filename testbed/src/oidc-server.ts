// Runs the testbed's OpenID Provider as its own process, for `testbed up`:
//   node testbed/src/oidc-server.ts <port> <client-id> <client-secret> <redirect-uri>...
import { startOidcProvider } from './oidc.ts';

const [port, clientId, clientSecret, ...redirectUris] = process.argv.slice(2);
if (!port || !clientId || !clientSecret || redirectUris.length === 0) {
  process.stderr.write(
    'usage: oidc-server.ts <port> <client-id> <client-secret> <redirect-uri>...\n',
  );
  process.exit(2);
}
const op = await startOidcProvider({
  port: Number(port),
  clients: [{ clientId, clientSecret, redirectUris }],
});
process.stdout.write(`OpenID Provider listening at ${op.issuer}\n`);
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => void op.stop().then(() => process.exit(0)));
}
