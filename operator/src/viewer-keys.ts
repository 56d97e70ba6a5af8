// The gateway's public keys, for the sessions' streamers: fetched from its JWKS URL every
// --viewer-keys-refresh seconds and copied by the reconciler into each session's viewer-keys
// ConfigMap (desired.ts desiredViewerKeys). The pods need no network path to the gateway,
// and a key the gateway rotates in reaches running sessions within a refresh, a resync of
// their Sessions (at once: a change wakes them all) and the kubelet's ConfigMap sync.
import { z } from 'zod';
import type { PublicJwk } from './desired.ts';

/** Members only a private (or secret) key has: the gateway never publishes one. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'];

const jwks = z.object({
  keys: z
    .array(z.looseObject({ kty: z.string().min(1), kid: z.string().optional() }))
    .min(1)
    .max(16),
});

/** PURE: the public keys of a JWKS document; throws a readable error for anything else. */
export function publicKeys(body: unknown): PublicJwk[] {
  const parsed = jwks.safeParse(body);
  if (!parsed.success) throw new Error(`not a JWKS: ${parsed.error.issues[0]?.message}`);
  for (const key of parsed.data.keys) {
    const secret = PRIVATE_MEMBERS.find((m) => m in key);
    if (secret) throw new Error(`a JWKS with a private key (member "${secret}"): refused`);
  }
  // as the gateway wrote them (zod's copy would list the members in another order)
  return (body as { keys: PublicJwk[] }).keys;
}

export class ViewerKeys {
  private readonly url: string;
  private readonly fetch: typeof fetch;
  private readonly onChange: () => void;
  private keys: PublicJwk[] | null = null;
  private text = '';
  private inFlight: Promise<PublicJwk[]> | null = null;

  constructor(opts: { url: string; onChange?: () => void; fetch?: typeof fetch }) {
    this.url = opts.url;
    this.fetch = opts.fetch ?? fetch;
    this.onChange = opts.onChange ?? (() => {});
  }

  /** Fetches the keys now; `onChange` is called when they differ from the last ones. */
  refresh(): Promise<PublicJwk[]> {
    this.inFlight ??= this.load().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  private async load(): Promise<PublicJwk[]> {
    const res = await this.fetch(this.url, {
      signal: AbortSignal.timeout(10_000),
      redirect: 'error',
    });
    if (!res.ok) throw new Error(`${this.url}: ${res.status}`);
    const keys = publicKeys(await res.json());
    const text = JSON.stringify(keys);
    const changed = this.keys !== null && text !== this.text;
    this.keys = keys;
    this.text = text;
    if (changed) this.onChange();
    return keys;
  }

  /** The last keys fetched, fetching them first when there are none yet. */
  async current(): Promise<PublicJwk[]> {
    return this.keys ?? this.refresh();
  }
}
