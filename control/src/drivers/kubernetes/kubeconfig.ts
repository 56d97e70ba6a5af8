// A cluster's kubeconfig as registered through the API: parsed once, checked for what the
// driver needs (a current context naming a cluster with a server), never logged.
import { KubeConfig } from '@kubernetes/client-node';

export type KubeconfigCheck =
  | { ok: true; kubeConfig: KubeConfig; server: string }
  | { ok: false; message: string };

/** Parses a kubeconfig's YAML (or JSON) text; the message says what is wrong with it. */
export function parseKubeconfig(text: string): KubeconfigCheck {
  const kubeConfig = new KubeConfig();
  try {
    kubeConfig.loadFromString(text);
  } catch (err) {
    // the parser's message may quote the text (and so a credential): name the kind only
    const what = err instanceof Error && /yaml|json/i.test(err.name) ? err.name : 'YAML';
    return { ok: false, message: `kubeconfig: not a valid kubeconfig document (${what})` };
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
  // exec and auth-provider plugins would run programs on the control plane's machine
  const user = kubeConfig.getCurrentUser();
  if (user?.exec || user?.authProvider) {
    return {
      ok: false,
      message:
        'kubeconfig: exec and auth-provider credentials are not accepted; use a token or a ' +
        'client certificate',
    };
  }
  return { ok: true, kubeConfig, server: url.origin + url.pathname.replace(/\/$/, '') };
}
