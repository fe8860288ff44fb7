import { describe, expect, it } from 'vitest';
import type { ContainerSpec } from '../../../../src/domain/host-spec.js';
import { creationOrder } from '../../../../src/engine/restore/bare-host.js';

function spec(name: string, extra: Partial<ContainerSpec> = {}): ContainerSpec {
  return {
    name,
    image: 'app:1',
    imageId: 'sha256:1',
    env: [],
    mounts: [],
    ports: [],
    networkMode: 'bridge',
    networks: [],
    restartPolicy: { name: 'no', maximumRetryCount: 0 },
    labels: {},
    links: [],
    ...extra,
  };
}

describe('creationOrder', () => {
  it('puts each container after what it links to, shares a network namespace with, or depends on in Compose', () => {
    const specs = [
      spec('a-web', { links: ['cache:cache'] }),
      spec('b-sidecar', { networkMode: 'container:a-web' }),
      spec('cache', {
        labels: {
          'com.docker.compose.service': 'cache',
          'com.docker.compose.depends_on': 'queue:service_started:false',
        },
      }),
      spec('queue', { labels: { 'com.docker.compose.service': 'queue' } }),
    ];

    const order = creationOrder(specs).map((s) => s.name);

    expect(order).toEqual(['queue', 'cache', 'a-web', 'b-sidecar']);
  });

  it('keeps name order without dependencies, and does not loop on a cycle', () => {
    const specs = [spec('b', { links: ['a:a'] }), spec('a', { links: ['b:b'] }), spec('c')];

    const order = creationOrder(specs).map((s) => s.name);

    expect(order.sort()).toEqual(['a', 'b', 'c']);
    expect(order).toHaveLength(3);
  });

  it('ignores dependencies on containers it is not creating', () => {
    const order = creationOrder([spec('web', { links: ['db:db'] })]).map((s) => s.name);

    expect(order).toEqual(['web']);
  });
});
