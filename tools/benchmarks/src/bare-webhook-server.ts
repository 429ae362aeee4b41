// The baseline for the ingress benchmark: a bare Node `http` server that reads the body, checks
// the HMAC-SHA256 signature in constant time and answers 200 — no parsing, no broker, no durability.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';

const secret = process.env['META_APP_SECRET'] ?? 'bench-secret';
const port = Number(process.env['PORT'] ?? 3950);

createServer((req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200).end('ok');
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const header = String(req.headers['x-hub-signature-256'] ?? '');
    const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
    const received = Buffer.from(header);
    const valid = received.length === expected.length && timingSafeEqual(received, expected);
    res.writeHead(valid ? 200 : 401, { 'content-type': 'text/plain' }).end(valid ? 'EVENT_RECEIVED' : 'invalid signature');
  });
}).listen(port, '127.0.0.1');
