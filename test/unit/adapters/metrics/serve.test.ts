// The /metrics and /healthz listener: its own address, GET routes only, a clear error when the address is taken.
import { describe, expect, it } from 'vitest';
import { serveRoutes } from '../../../../src/adapters/metrics/serve.js';
import { AppError } from '../../../../src/errors.js';

const routes = {
  '/metrics': (_req: unknown, res: import('node:http').ServerResponse) =>
    res.writeHead(200).end('# metrics\n'),
  '/healthz': (_req: unknown, res: import('node:http').ServerResponse) => res.writeHead(200).end('ok\n'),
};

describe('serveRoutes', () => {
  it('serves GET /metrics and /healthz on loopback and nothing else', async () => {
    const server = await serveRoutes({ host: '127.0.0.1', port: 0 }, routes);
    const base = `http://127.0.0.1:${server.address.port}`;

    try {
      const metrics = await fetch(`${base}/metrics?x=1`);
      const health = await fetch(`${base}/healthz`);
      const events = await fetch(`${base}/slack/events`, { method: 'POST', body: '{}' });
      const postMetrics = await fetch(`${base}/metrics`, { method: 'POST' });

      expect([metrics.status, await metrics.text()]).toEqual([200, '# metrics\n']);
      expect(health.status).toBe(200);
      expect(events.status).toBe(404);
      expect(postMetrics.status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it('fails with a message naming metrics.listen when the address is taken', async () => {
    const first = await serveRoutes({ host: '127.0.0.1', port: 0 }, routes);

    const second = await serveRoutes({ host: '127.0.0.1', port: first.address.port }, routes).catch((e) => e);

    await first.close();
    expect(second).toBeInstanceOf(AppError);
    expect((second as AppError).code).toBe('CONFIG_INVALID');
    expect((second as AppError).message).toMatch(
      /cannot serve \/metrics and \/healthz on 127\.0\.0\.1:\d+: EADDRINUSE — set metrics\.listen \(or DRBOT_METRICS_LISTEN\)/,
    );
  });
});
