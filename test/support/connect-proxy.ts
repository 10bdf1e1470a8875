// A real HTTP CONNECT proxy on loopback for tests: tunnels TCP to the requested host and counts
// the tunnels it opened.
import { createServer, type Server } from "node:http";
import { connect, type AddressInfo, type Socket } from "node:net";

export async function startConnectProxy(): Promise<{
  url: string;
  tunnels: string[];
  close: () => Promise<void>;
}> {
  const tunnels: string[] = [];
  // Tunnelled sockets leave the HTTP server's bookkeeping: close them ourselves.
  const open = new Set<Socket>();
  const server: Server = createServer((_req, res) => res.writeHead(405).end());
  server.on("connect", (req, client, head) => {
    const [host, port] = (req.url ?? "").split(":");
    tunnels.push(req.url ?? "");
    open.add(client as Socket);
    const upstream = connect(Number(port), host, () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    open.add(upstream);
    upstream.on("error", () => client.destroy());
    client.on("error", () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    tunnels,
    close: () =>
      new Promise((resolve) => {
        for (const socket of open) socket.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
