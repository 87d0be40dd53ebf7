import { connect, createServer } from 'node:net';

// Ports this process already handed out: one server takes several (Kafka's broker and controller
// listeners), and the OS may give a port that was just probed and closed to the very next listen(0).
const handedOut = new Set<number>();

/** A loopback port that was free a moment ago and not handed out before by this process. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await unusedPort();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

// The OS picks it, so parallel runs do not collide.
async function unusedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('no port from listen(0)'));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}

/** `port` (one of GoMaint's) when it can be bound now, else any free port. */
export async function preferredPort(port: number): Promise<number> {
  return (await isPortFree(port)) ? port : freePort();
}

async function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () =>
      server.close(() => {
        // The caller takes it: freePort must not give it to another server of this run.
        handedOut.add(port);
        resolve(true);
      }),
    );
  });
}

/** Whether something accepts TCP connections on the port within `timeoutMs`. */
export async function portOpen(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    socket.setTimeout(timeoutMs);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}
