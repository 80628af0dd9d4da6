// A TCP port on 127.0.0.1 that nothing listens on now: the OS picks it (listen on 0), and it is freed at once
// for the caller's server (wrangler dev, a WebDriver). Another process could take it in between; the
// callers start their server right away.
import { createServer } from "node:net";

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
