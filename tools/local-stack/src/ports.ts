import net from 'node:net';

/** A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it). */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not read the port the OS picked'));
      });
    });
  });
}

/** Whether nothing listens on `port` at 127.0.0.1 right now. */
export async function isPortFree(port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** `preferred` when it is free, otherwise any free port; stable ports are friendlier for `npm start`. */
export async function preferredOrFreePort(preferred: number, taken: ReadonlySet<number> = new Set()): Promise<number> {
  if (!taken.has(preferred) && (await isPortFree(preferred))) return preferred;
  for (;;) {
    const port = await freePort();
    if (!taken.has(port)) return port;
  }
}
