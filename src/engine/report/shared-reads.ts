// Reads many people ask for at once: one computation shared while nothing changed, a short-lived Docker listing.
import type { Clock } from '../../ports/clock.js';
import type { ContainerInfo, ContainerRuntime, VolumeInfo } from '../../ports/container-runtime.js';

/**
 * One computation for every request that arrives while it is in progress, as long as what it
 * reads has not changed since it began (`version` is the same): fifty `/dr status` at once do
 * the work once. A request after a change (a backup completed meanwhile) starts a new one, so
 * no one gets an answer older than their question. Nothing is kept once a computation ends.
 */
export class SharedRead<T> {
  private current: { version: string; promise: Promise<T> } | undefined;

  constructor(
    private readonly compute: () => Promise<T>,
    private readonly version: () => string,
  ) {}

  get(): Promise<T> {
    const version = this.version();
    if (this.current?.version === version) return this.current.promise;
    const promise = this.compute();
    const entry = { version, promise };
    this.current = entry;
    const clear = () => {
      if (this.current === entry) this.current = undefined;
    };
    promise.then(clear, clear);
    return promise;
  }
}

/**
 * The container runtime with its volume and container listings kept for `ttlMs` (on the
 * monotonic clock) for reports: a burst of status requests lists Docker once, not fifty times.
 * `invalidate` drops them at once (a run started or ended: it may have changed containers).
 * Everything else goes straight to the runtime; runs use the runtime itself, never this.
 */
export function cachedListings(
  runtime: ContainerRuntime,
  clock: Pick<Clock, 'monotonic'>,
  ttlMs: number,
): { runtime: ContainerRuntime; invalidate(): void } {
  let volumes: { at: number; value: Promise<VolumeInfo[]> } | undefined;
  let containers: { at: number; value: Promise<ContainerInfo[]> } | undefined;
  const fresh = (entry: { at: number } | undefined) =>
    entry !== undefined && clock.monotonic() - entry.at < ttlMs;
  const keep = <V>(value: Promise<V>, drop: () => void) => {
    // A failed listing is not kept: the next request asks Docker again.
    value.catch(drop);
    return value;
  };
  const listVolumes = () => {
    if (!fresh(volumes)) {
      const entry = { at: clock.monotonic(), value: runtime.listVolumes() };
      volumes = entry;
      keep(entry.value, () => {
        if (volumes === entry) volumes = undefined;
      });
    }
    return (volumes as { value: Promise<VolumeInfo[]> }).value;
  };
  const listContainers = () => {
    if (!fresh(containers)) {
      const entry = { at: clock.monotonic(), value: runtime.listContainers() };
      containers = entry;
      keep(entry.value, () => {
        if (containers === entry) containers = undefined;
      });
    }
    return (containers as { value: Promise<ContainerInfo[]> }).value;
  };
  const cached = new Proxy(runtime, {
    get(target, prop) {
      if (prop === 'listVolumes') return listVolumes;
      if (prop === 'listContainers') return listContainers;
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return {
    runtime: cached,
    invalidate: () => {
      volumes = undefined;
      containers = undefined;
    },
  };
}
