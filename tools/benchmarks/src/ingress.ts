// Ingress benchmark: signed webhooks of realistic size against (a) the ingress with the real
// broker, acknowledging only durable events, and (b) a bare Node `http` server that only checks
// the HMAC and answers 200 — same machine, same run, same load generator.
//
//   npm run bench:ingress                      (KAFKA_BROKERS, or the local stack's Kafka)
//   DURATION_S=20 CONNECTIONS=50 RATE=1000 npm run bench:ingress
//
// Prints a Markdown table to paste into docs/benchmarks.md with the machine and the date.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { EVENT_TOPICS } from '@parley/contracts';
import { createKafkaClient, provisionTopics } from '@parley/messaging';
import { SERVICES, nodeOptionsFor } from '@parley/local-stack';
import { createLogger } from '@parley/observability';

const root = join(import.meta.dirname, '..', '..', '..');
const SECRET = 'bench-secret';
const durationS = Number(process.env['DURATION_S'] ?? 20);
const connections = Number(process.env['CONNECTIONS'] ?? 50);
const fixedRate = Number(process.env['RATE'] ?? 1000);
const logger = createLogger({ service: 'bench', level: 'warn' });

type Result = { name: string; rps: number; p50: number; p99: number; errors: number; non2xx: number; peakRssMiB?: number };

async function main() {
  let brokers = process.env['KAFKA_BROKERS']?.split(',');
  let stopInfra: (() => Promise<void>) | undefined;
  if (!brokers) {
    const { ensureInfrastructure } = await import('@parley/local-stack');
    const infra = await ensureInfrastructure({ needs: { kafka: true, postgres: false } } as never);
    brokers = infra.kafkaBrokers;
    stopInfra = infra.stop;
  }
  await provisionTopics(createKafkaClient({ brokers, clientId: 'bench', logger }), EVENT_TOPICS);

  const bare = await startChild('bare', ['tools/benchmarks/src/bare-webhook-server.ts'], { PORT: '3950', META_APP_SECRET: SECRET }, 3950);
  // SERVICE_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the ingress while it is measured.
  // As deployed (nodeOptionsFor), plus SERVICE_NODE_ARGS (e.g. a CPU profile).
  const nodeArgs = [...nodeOptionsFor(SERVICES.find((s) => s.name === 'ingress')!), ...(process.env['SERVICE_NODE_ARGS'] ?? '').split(' ').filter(Boolean)];
  const ingress = await startChild('ingress', [...nodeArgs, 'services/ingress/src/main.ts'], {
    PORT: '3951',
    KAFKA_BROKERS: brokers.join(','),
    META_APP_SECRET: SECRET,
    META_VERIFY_TOKEN: 'bench',
    LOG_LEVEL: 'warn',
  }, 3951);

  const results: Result[] = [];
  // ONLY=ingress-max: just the ingress at its maximum rate (to profile it), no table.
  const onlyIngressMax = process.env['ONLY'] === 'ingress-max';
  try {
    if (onlyIngressMax) {
      await load('warm-up', 'http://127.0.0.1:3951', 3, connections);
      const r = await load('ingress + Kafka (acks=all), max rate', 'http://127.0.0.1:3951', durationS, connections, undefined, ingress.child);
      console.log(`ingress max rate: ${r.rps.toFixed(0)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, errors ${r.errors}, non-2xx ${r.non2xx}, peak RSS ${r.peakRssMiB?.toFixed(0)} MiB`);
    } else {
      // Warm up both (JIT, connections, producer metadata), then measure.
      await load('warm-up', 'http://127.0.0.1:3950', 3, connections);
      await load('warm-up', 'http://127.0.0.1:3951', 3, connections);
      // The fixed rate first, so that the peak memory reported for it is that load's, not the max run's.
      results.push(await load(`bare http + HMAC, ${fixedRate} req/s`, 'http://127.0.0.1:3950', durationS, connections, fixedRate, bare.child));
      results.push(await load(`ingress + Kafka (acks=all), ${fixedRate} req/s`, 'http://127.0.0.1:3951', durationS, connections, fixedRate, ingress.child));
      results.push(await load('bare http + HMAC, max rate', 'http://127.0.0.1:3950', durationS, connections, undefined, bare.child));
      results.push(await load('ingress + Kafka (acks=all), max rate', 'http://127.0.0.1:3951', durationS, connections, undefined, ingress.child));
    }
  } finally {
    bare.child.kill('SIGTERM');
    ingress.child.kill('SIGTERM');
    await stopInfra?.();
  }
  if (onlyIngressMax) return;

  const maxBare = results[2]!;
  const maxIngress = results[3]!;
  console.log(`\nMachine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB; Node ${process.version}; ${new Date().toISOString()}`);
  console.log(`Payload: one message webhook of ${samplePayload().length} bytes, a new mid per request; ${connections} connections, ${durationS} s per run.\n`);
  console.log('| run | req/s | p50 ms | p99 ms | errors | non-2xx | peak RSS MiB |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const r of results) console.log(`| ${r.name} | ${r.rps.toFixed(0)} | ${r.p50} | ${r.p99} | ${r.errors} | ${r.non2xx} | ${r.peakRssMiB?.toFixed(0) ?? ''} |`);
  console.log(`\nIngress / bare throughput: ${(maxIngress.rps / maxBare.rps).toFixed(2)}`);
}

let sequence = 0;
function samplePayload(): string {
  const mid = `m_${randomUUID()}`;
  const psid = `${7_000_000_000_000 + (sequence++ % 5_000)}`; // 5,000 customers, so nobody is throttled
  return JSON.stringify({
    object: 'page',
    entry: [
      {
        id: '104857600000001',
        time: Date.now(),
        messaging: [
          {
            sender: { id: psid },
            recipient: { id: '104857600000001' },
            timestamp: Date.now(),
            message: {
              mid,
              text: 'Hi! I ordered the blue jacket last week (order #48213) and it has not arrived yet. Could you tell me where it is and when I can expect it? Thanks a lot.',
            },
          },
        ],
      },
    ],
  });
}

function load(name: string, url: string, seconds: number, conns: number, overallRate?: number, child?: ChildProcess): Promise<Result> {
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: `${url}/webhooks/messenger`,
        method: 'POST',
        connections: conns,
        duration: seconds,
        ...(overallRate ? { overallRate } : {}),
        requests: [
          {
            setupRequest: (request: autocannon.Request) => {
              const body = samplePayload();
              return {
                ...request,
                body,
                headers: {
                  'content-type': 'application/json',
                  'x-hub-signature-256': `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`,
                },
              };
            },
          },
        ],
      },
      (error: Error | null, result: autocannon.Result) => {
        if (error) return reject(error);
        resolve({
          name,
          rps: result.requests.average,
          p50: result.latency.p50,
          p99: result.latency.p99,
          errors: result.errors + result.timeouts,
          non2xx: result.non2xx,
          ...(child?.pid ? { peakRssMiB: peakRssMiB(child.pid) } : {}),
        });
      },
    );
    void instance;
  });
}

/** VmHWM: the process's peak resident set since it started. */
function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kib / 1024;
}

async function startChild(name: string, args: string[], env: Record<string, string>, port: number): Promise<{ child: ChildProcess }> {
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit'] });
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`);
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
    if (ok) return { child };
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${name} did not start`);
}

await main();
