// Per container, in this process: dumps (which need it running) never overlap a stop for an archive.

/**
 * A readers–writer gate per container name. A dump holds it shared (any number at once); a
 * stopped archive holds it alone, so it waits for dumps in progress and a dump waits for the
 * container to be back. Writers are served in turn: a stream of dumps cannot starve an archive.
 */
class Gate {
  readers = 0;
  writing = false;
  readonly queue: Array<{ write: boolean; go: () => void }> = [];

  enter(write: boolean): Promise<void> {
    if (!this.queue.length && this.free(write)) {
      this.take(write);
      return Promise.resolve();
    }
    return new Promise((resolve) => this.queue.push({ write, go: resolve }));
  }

  leave(write: boolean): void {
    if (write) this.writing = false;
    else this.readers--;
    for (let next = this.queue[0]; next && this.free(next.write); next = this.queue[0]) {
      this.queue.shift();
      this.take(next.write);
      next.go();
    }
  }

  get idle(): boolean {
    return !this.writing && this.readers === 0 && !this.queue.length;
  }

  private free(write: boolean): boolean {
    return !this.writing && (!write || this.readers === 0);
  }

  private take(write: boolean): void {
    if (write) this.writing = true;
    else this.readers++;
  }
}

const gates = new Map<string, Gate>();

async function hold<T>(container: string, write: boolean, fn: () => Promise<T>): Promise<T> {
  const gate = gates.get(container) ?? new Gate();
  gates.set(container, gate);
  await gate.enter(write);
  try {
    return await fn();
  } finally {
    gate.leave(write);
    if (gate.idle) gates.delete(container);
  }
}

/** Runs `fn` (a dump) while no archive has the container stopped. */
export function whileRunning<T>(container: string, fn: () => Promise<T>): Promise<T> {
  return hold(container, false, fn);
}

/** Runs `fn` (stop, archive, start) once no dump is using the container, and lets none start. */
export function whileStopped<T>(container: string, fn: () => Promise<T>): Promise<T> {
  return hold(container, true, fn);
}
