// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it:
// - a candidate reads the Lease; it may take it when nobody holds it, or when the holder's
//   record has not changed for leaseDurationSeconds as measured on the candidate's OWN clock
//   since it last saw a change (no trust in other machines' clocks);
// - every write carries the resourceVersion read, so of two candidates one wins (409 for the
//   other);
// - the leader renews every retryPeriod; if it cannot renew for renewDeadline (shorter than
//   the lease duration) it stops leading at once, before anyone else may take over;
// - on a clean shutdown it releases the Lease (holder emptied) so the next one need not wait.
import { isConflict, isNotFound, type Kube } from './kube.ts';
import { at, R } from './resources.ts';

export interface LeaderOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
  onError?: (err: unknown) => void;
}

interface Lease {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

/** RFC 3339 with microseconds, the format of a Lease's MicroTime fields. */
const microTime = (d: Date) => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

export class LeaderElector {
  private readonly kube: Kube;
  private readonly o: LeaderOptions;
  private leading = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private lastRenewMs = 0;
  /** what we last saw of the Lease, and when (our clock) it last changed */
  private observed: { record: string; atMs: number; lease: Lease } | undefined;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(kube: Kube, opts: LeaderOptions) {
    this.kube = kube;
    this.o = opts;
  }

  isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Stops campaigning; a leader releases the Lease. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    if (this.leading) {
      this.setLeading(false);
      await this.release().catch((err) => this.o.onError?.(err));
    }
  }

  private setLeading(l: boolean) {
    if (this.leading === l) return;
    this.leading = l;
    if (l) this.o.onStartedLeading();
    else this.o.onStoppedLeading();
  }

  private async run() {
    while (!this.stopped) {
      try {
        const held = await this.tryAcquireOrRenew();
        if (held) this.lastRenewMs = Date.now();
        // the API server says someone else holds it: no reason to wait for the deadline
        else if (this.leading) this.lastRenewMs = 0;
      } catch (err) {
        this.o.onError?.(err);
      }
      if (this.leading && Date.now() - this.lastRenewMs > this.o.renewDeadlineMs) {
        // could not renew in time: someone may take the Lease soon; stop acting now
        this.setLeading(false);
      } else if (
        !this.leading &&
        Date.now() - this.lastRenewMs <= this.o.renewDeadlineMs &&
        this.lastRenewMs > 0
      ) {
        this.setLeading(true);
      }
      if (this.stopped) break;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.timer = setTimeout(resolve, this.o.retryPeriodMs);
      });
      clearTimeout(this.timer);
    }
  }

  /** One round: true when we hold the Lease afterwards. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const ref = at(R.lease, this.o.namespace, this.o.name);
    const now = new Date();
    const durationS = Math.ceil(this.o.leaseDurationMs / 1000);
    let lease: Lease | undefined;
    try {
      lease = await this.kube.request<Lease>('get', ref);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    if (!lease) {
      const fresh: Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: this.o.name, namespace: this.o.namespace },
        spec: {
          holderIdentity: this.o.identity,
          leaseDurationSeconds: durationS,
          acquireTime: microTime(now),
          renewTime: microTime(now),
          leaseTransitions: 0,
        },
      };
      try {
        await this.kube.request('create', at(R.lease, this.o.namespace), { body: fresh });
        return true;
      } catch (err) {
        if (isConflict(err)) return false; // another candidate created it first
        throw err;
      }
    }

    const record = JSON.stringify(lease.spec);
    if (!this.observed || this.observed.record !== record) {
      this.observed = { record, atMs: Date.now(), lease };
    }
    const holder = lease.spec.holderIdentity ?? '';
    const mine = holder === this.o.identity;
    const duration = (lease.spec.leaseDurationSeconds ?? durationS) * 1000;
    const expired = this.observed.atMs + duration <= Date.now();
    if (!mine && holder !== '' && !expired) return false;

    const next: Lease = {
      ...lease,
      spec: {
        holderIdentity: this.o.identity,
        leaseDurationSeconds: durationS,
        acquireTime: mine ? lease.spec.acquireTime : microTime(now),
        renewTime: microTime(now),
        leaseTransitions: (lease.spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
      },
    };
    try {
      // PUT with the resourceVersion read: fails with 409 if anyone wrote in between
      const written = await this.kube.request<Lease>('update', ref, { body: next });
      this.observed = { record: JSON.stringify(written.spec), atMs: Date.now(), lease: written };
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
  }

  private async release() {
    const ref = at(R.lease, this.o.namespace, this.o.name);
    const lease = await this.kube.request<Lease>('get', ref);
    if (lease.spec.holderIdentity !== this.o.identity) return;
    await this.kube.request('update', ref, {
      body: {
        ...lease,
        spec: {
          ...lease.spec,
          holderIdentity: '',
          leaseDurationSeconds: 1,
          renewTime: microTime(new Date()),
        },
      },
    });
  }
}
