// The Docker adapter caps scratch containers as asked (verify.scratch → NanoCpus, Memory).
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { DockerRuntime } from '../../src/adapters/docker/docker-runtime.js';
import { createLogger } from '../../src/log.js';
import { docker, removeByLabel } from '../fixtures/docker.js';
import { BUSYBOX_IMAGE } from '../fixtures/images.js';

const LABEL = 'drbot.scratch';
const RUN = `run-limits-${randomBytes(3).toString('hex')}`;

afterAll(() => {
  removeByLabel(`${LABEL}=${RUN}`);
});

describe('runScratchContainer', () => {
  it('starts the container with the CPU and memory caps of its spec, and none when they are 0', async () => {
    const runtime = new DockerRuntime('unix:///var/run/docker.sock', createLogger({ level: 'silent' }));
    const capped = `drbot-verify-${RUN}-capped`;
    const free = `drbot-verify-${RUN}-free`;
    const spec = { image: BUSYBOX_IMAGE, env: [], labels: { [LABEL]: RUN }, cmd: ['sleep', '30'] };

    await runtime.runScratchContainer({
      ...spec,
      name: capped,
      limits: { nanoCpus: 500_000_000, memoryBytes: 256 * 1024 ** 2 },
    });
    await runtime.runScratchContainer({ ...spec, name: free, limits: { nanoCpus: 0, memoryBytes: 0 } });

    const limits = (name: string) =>
      docker([
        'inspect',
        '-f',
        '{{.HostConfig.NanoCpus}} {{.HostConfig.Memory}} {{.State.Running}}',
        name,
      ]).trim();
    expect(limits(capped)).toBe(`500000000 ${256 * 1024 ** 2} true`);
    expect(limits(free)).toBe('0 0 true');
  });
});
