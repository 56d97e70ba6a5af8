// A cluster's kubeconfig as registered through the API: parsed once, checked for what the
// driver needs (a current context naming a cluster with a server), never logged.
//
// Only inline credentials are accepted. A kubeconfig may name files (token-file,
// client-certificate, client-key, certificate-authority) or programs (exec, auth-provider)
// that its client reads or runs: here that client is the control plane, so a caller could
// have it read any of its files and send them to a server of the caller's choosing. The
// document is parsed here and the KubeConfig built from the accepted fields alone
// (loadFromOptions), so the client library never sees, let alone follows, anything else.
import { type Cluster, type Context, KubeConfig, type User } from '@kubernetes/client-node';
import { parse } from 'yaml';

export type KubeconfigCheck =
  | { ok: true; kubeConfig: KubeConfig; server: string }
  /** `refused`: the document is fine but asks for something not allowed here (400) */
  | { ok: false; message: string; refused?: boolean };

/** fields that name a file on the machine of whoever reads the kubeconfig, and their inline forms */
const FILE_FIELDS: Record<string, string> = {
  'token-file': 'token',
  tokenFile: 'token',
  'client-certificate': 'client-certificate-data',
  'client-key': 'client-key-data',
  'certificate-authority': 'certificate-authority-data',
};
/** fields that run code (a program, or a provider's refresh logic) on the reader's machine */
const PLUGIN_FIELDS = ['exec', 'auth-provider'];
const USER_FIELDS = ['token', 'client-certificate-data', 'client-key-data'];

class Refused extends Error {}
class Invalid extends Error {}

type Doc = Record<string, unknown>;
const isObject = (v: unknown): v is Doc => typeof v === 'object' && v !== null && !Array.isArray(v);

function optionalString(o: Doc, field: string, where: string): string | undefined {
  const v = o[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new Invalid(`kubeconfig: ${where}.${field} is not a string`);
  return v;
}

/** The named entries of a list (clusters, users, contexts), each with its inner object. */
function entries(doc: Doc, list: string, inner: string): { name: string; at: string; o: Doc }[] {
  const items = doc[list] ?? [];
  if (!Array.isArray(items)) throw new Invalid(`kubeconfig: ${list} is not a list`);
  return items.map((item, i) => {
    const at = `${list}[${i}]`;
    if (!isObject(item) || typeof item.name !== 'string' || !isObject(item[inner] ?? {})) {
      throw new Invalid(`kubeconfig: ${at} needs a name and a ${inner}`);
    }
    return { name: item.name, at: `${at}.${inner}`, o: (item[inner] ?? {}) as Doc };
  });
}

function refuseFilesAndPlugins(at: string, o: Doc) {
  for (const field of Object.keys(o)) {
    const inline = FILE_FIELDS[field];
    if (inline) {
      throw new Refused(
        `kubeconfig: ${at}.${field} names a file; the control plane reads no file for a ` +
          `cluster: give ${inline} inline instead (kubectl config view --raw --flatten --minify)`,
      );
    }
    if (PLUGIN_FIELDS.includes(field)) {
      throw new Refused(
        `kubeconfig: ${at}.${field} is a credential plugin, which would run on the control ` +
          'plane; give a token, or client-certificate-data and client-key-data, inline',
      );
    }
  }
}

/** The kubeconfig's clusters, users and contexts, with only the fields accepted here. */
function accepted(doc: Doc) {
  const clusters: Cluster[] = entries(doc, 'clusters', 'cluster').map(({ name, at, o }) => {
    refuseFilesAndPlugins(at, o);
    return {
      name,
      server: optionalString(o, 'server', at) ?? '',
      caData: optionalString(o, 'certificate-authority-data', at),
      tlsServerName: optionalString(o, 'tls-server-name', at),
      skipTLSVerify: o['insecure-skip-tls-verify'] === true,
    };
  });
  const users: User[] = entries(doc, 'users', 'user').map(({ name, at, o }) => {
    refuseFilesAndPlugins(at, o);
    const other = Object.keys(o).find((f) => !USER_FIELDS.includes(f));
    if (other) {
      throw new Refused(
        `kubeconfig: ${at}.${other} is not accepted; a user gives a token, or ` +
          'client-certificate-data and client-key-data',
      );
    }
    return {
      name,
      token: optionalString(o, 'token', at),
      certData: optionalString(o, 'client-certificate-data', at),
      keyData: optionalString(o, 'client-key-data', at),
    };
  });
  const contexts: Context[] = entries(doc, 'contexts', 'context').map(({ name, at, o }) => ({
    name,
    cluster: optionalString(o, 'cluster', at) ?? '',
    user: optionalString(o, 'user', at) ?? '',
    namespace: optionalString(o, 'namespace', at),
  }));
  const current = doc['current-context'];
  return { clusters, users, contexts, currentContext: typeof current === 'string' ? current : '' };
}

/** Parses a kubeconfig's YAML (or JSON) text; the message says what is wrong with it. */
export function parseKubeconfig(text: string): KubeconfigCheck {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    // the parser's message may quote the text (and so a credential): name the kind only
    const what = err instanceof Error && /yaml|json/i.test(err.name) ? err.name : 'YAML';
    return { ok: false, message: `kubeconfig: not a valid kubeconfig document (${what})` };
  }
  const kubeConfig = new KubeConfig();
  try {
    kubeConfig.loadFromOptions(
      accepted(isObject(doc) ? doc : {}) satisfies Parameters<KubeConfig['loadFromOptions']>[0],
    );
  } catch (err) {
    if (err instanceof Refused) return { ok: false, message: err.message, refused: true };
    if (err instanceof Invalid) return { ok: false, message: err.message };
    throw err;
  }
  const context = kubeConfig.getCurrentContext();
  if (!context || !kubeConfig.getContextObject(context)) {
    return { ok: false, message: 'kubeconfig: it names no current-context that it defines' };
  }
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) {
    return { ok: false, message: `kubeconfig: context "${context}" names no cluster it defines` };
  }
  let url: URL;
  try {
    url = new URL(cluster.server);
  } catch {
    return { ok: false, message: `kubeconfig: cluster "${cluster.name}" has no valid server URL` };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return { ok: false, message: `kubeconfig: the server of "${cluster.name}" is not http(s)` };
  }
  return { ok: true, kubeConfig, server: url.origin + url.pathname.replace(/\/$/, '') };
}
