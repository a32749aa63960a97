/**
 * The floor for a Node proxy on this machine: a bare node:http server that
 * reads the body and forwards it with a keep-alive http.request, nothing
 * else (no routing, no parsing, no scheduling). bench/proxy.ts runs it beside
 * infergate so the gap between the two is what infergate itself costs.
 *
 *   tsx bench/proxy/node-floor.ts LISTEN_PORT UPSTREAM_PORT
 */
import http from 'node:http';

const [listenPort, upstreamPort] = process.argv.slice(2).map(Number);
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

http
  .createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const up = http.request(
        { host: '127.0.0.1', port: upstreamPort, method: 'POST', path: req.url, agent, headers: { 'content-type': 'application/json', 'content-length': body.length } },
        (r) => {
          const out: Buffer[] = [];
          r.on('data', (c: Buffer) => out.push(c));
          r.on('end', () => {
            const answer = Buffer.concat(out);
            res.writeHead(r.statusCode ?? 502, { 'content-type': 'application/json', 'content-length': answer.length });
            res.end(answer);
          });
        },
      );
      up.on('error', () => {
        res.writeHead(502);
        res.end();
      });
      up.end(body);
    });
  })
  .listen(listenPort, '127.0.0.1');
