import type { Logger } from './logger.ts';

/**
 * Stops the process cleanly on SIGINT/SIGTERM: runs `close` (stop taking work, finish in-flight
 * work, disconnect), then exits. A second signal, or `close` taking longer than `timeoutMs`, exits
 * at once; Kubernetes would otherwise kill the pod mid-write after its grace period anyway.
 */
export function installShutdown(logger: Logger, close: () => Promise<void>, timeoutMs = 20_000): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ timeoutMs }, 'shutdown took too long: exiting');
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    close().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'error while shutting down');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
