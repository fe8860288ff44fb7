// The HTTP listener for /metrics and /healthz, on an address of its own apart from Slack's port.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AppError, ErrorCode } from '../../errors.js';

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void;

export interface RouteServer {
  /** Where it listens (the port the system chose when asked for port 0). */
  address: { host: string; port: number };
  close(): Promise<void>;
}

/**
 * Serves GET routes on `listen` and nothing else (every other path and method: 404). These
 * routes tell whoever reaches them which assets exist, how old their backups are and whether
 * the Docker engine answers; they listen apart from the Slack receiver, on loopback unless the
 * operator says otherwise, so exposing Slack's endpoint does not expose them.
 */
export async function serveRoutes(
  listen: { host: string; port: number },
  routes: Record<string, RouteHandler>,
): Promise<RouteServer> {
  const server = createServer((req, res) => {
    const route = routes[(req.url ?? '/').split('?')[0] as string];
    if (req.method === 'GET' && route) route(req, res);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new AppError(
          ErrorCode.CONFIG_INVALID,
          'user',
          `cannot serve /metrics and /healthz on ${listen.host}:${listen.port}: ${err.code ?? err.message} — set metrics.listen (or DRBOT_METRICS_LISTEN) to a free host:port`,
          { cause: err },
        ),
      ),
    );
    server.listen(listen.port, listen.host, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  return {
    address: { host: listen.host, port: bound.port },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
