/**
 * How an HTTP program stops on SIGINT/SIGTERM: once, however many signals arrive. The server closes first (requests
 * in flight finish; new ones get 503 through Fastify's return503OnClosing), then its Temporal connection; the exit code
 * says whether both closed cleanly.
 */
import type { Connection } from '@temporalio/client';
import type { FastifyBaseLogger } from 'fastify';

export function closeOnSignals(
  log: FastifyBaseLogger,
  server: { close(): Promise<void> },
  connection: Connection,
): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    void server
      .close()
      .then(() => connection.close())
      .then(
        () => process.exit(0),
        () => process.exit(1),
      );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}
