// The Kubernetes client's retry rule and proxy choice, on plain data and a loopback HTTP server
// (the API server's own 429/5xx cannot be provoked on demand).
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { KubeClient } from "../../engine/kube/client";
import { proxyFor } from "../../engine/kube/proxy";

async function server(statuses: number[]) {
  const seen: string[] = [];
  const http = createServer((req, res) => {
    seen.push(req.method!);
    const status = statuses.shift() ?? 200;
    res.writeHead(status, {
      "content-type": "application/json",
      ...(status === 429 ? { "retry-after": "0" } : {}),
    });
    res.end(JSON.stringify(status === 200 ? { items: [] } : { message: `status ${status}` }));
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  return { client: new KubeClient({ server: url, context: "t" }), seen, close: () => http.close() };
}

test("an idempotent request is retried on 429 (Retry-After) and 5xx, then succeeds", async () => {
  const { client, seen, close } = await server([429, 503, 200]);
  await expect(client.request("GET", "/apis")).resolves.toEqual({ items: [] });
  expect(seen).toEqual(["GET", "GET", "GET"]);
  close();
});

test("retries stop after three, and a POST is never retried", async () => {
  const failing = await server([500, 500, 500, 500, 500]);
  await expect(failing.client.request("PATCH", "/x")).rejects.toThrow("status 500");
  expect(failing.seen).toHaveLength(4);
  failing.close();
  const post = await server([503]);
  await expect(post.client.request("POST", "/events", { body: {} })).rejects.toThrow("status 503");
  expect(post.seen).toEqual(["POST"]);
  post.close();
});

test("the proxy: proxy-url first, then HTTPS_PROXY unless NO_PROXY or a loopback host", () => {
  const env = { HTTPS_PROXY: "http://proxy:3128", NO_PROXY: "internal.example.com,.svc,10.0.0.1:6443" };
  expect(proxyFor("https://api.example.com", "http://p2:8080", env)?.host).toBe("p2:8080");
  expect(proxyFor("https://api.example.com", undefined, env)?.host).toBe("proxy:3128");
  expect(proxyFor("https://internal.example.com", undefined, env)).toBeUndefined();
  expect(proxyFor("https://k8s.internal.example.com", undefined, env)).toBeUndefined();
  expect(proxyFor("https://kubernetes.default.svc", undefined, env)).toBeUndefined();
  expect(proxyFor("https://10.0.0.1:6443", undefined, env)).toBeUndefined();
  expect(proxyFor("https://10.0.0.1:443", undefined, env)?.host).toBe("proxy:3128");
  expect(proxyFor("https://127.0.0.1:6553", undefined, env)).toBeUndefined();
  expect(proxyFor("https://api.example.com", undefined, { ...env, NO_PROXY: "*" })).toBeUndefined();
  expect(proxyFor("https://api.example.com", undefined, {})).toBeUndefined();
});
