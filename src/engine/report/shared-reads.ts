// Reads many people ask for at once: one computation shared while nothing changed, Docker listings shared while in flight.
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
 * The container runtime with its volume and container listings shared by everyone who asks
 * while one is in progress, for reports: a burst of status, policy and metrics requests lists
 * Docker once. A listing is never kept once it has answered, so a volume created a moment ago
 * is in the next answer. Everything else goes straight to the runtime.
 */
export function sharedListings(runtime: ContainerRuntime): ContainerRuntime {
  const inFlight = <V>(list: () => Promise<V>) => {
    let current: Promise<V> | undefined;
    return () => {
      if (!current) {
        const started = list();
        current = started;
        const clear = () => {
          if (current === started) current = undefined;
        };
        started.then(clear, clear);
      }
      return current;
    };
  };
  const listVolumes = inFlight<VolumeInfo[]>(() => runtime.listVolumes());
  const listContainers = inFlight<ContainerInfo[]>(() => runtime.listContainers());
  return new Proxy(runtime, {
    get(target, prop) {
      if (prop === 'listVolumes') return listVolumes;
      if (prop === 'listContainers') return listContainers;
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
