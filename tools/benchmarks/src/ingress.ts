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
import { cpuMsOfPid, machineTicks, pidsMatching, stealShare } from './proc.ts';

const root = join(import.meta.dirname, '..', '..', '..');
const SECRET = 'bench-secret';
const durationS = Number(process.env['DURATION_S'] ?? 20);
const connections = Number(process.env['CONNECTIONS'] ?? 50);
const fixedRate = Number(process.env['RATE'] ?? 1000);
const logger = createLogger({ service: 'bench', level: 'warn' });

type Result = {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  peakRssMiB?: number;
  /** CPU time per request (µs) of the server process (all its threads), the broker and this load generator. */
  cpuUs: { server: number; broker: number; generator: number };
  /** Share of the run's machine time the hypervisor gave to other guests. */
  steal: number;
};

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
  // ONLY=ingress-max / ONLY=ingress-rate: just the ingress at its maximum / the fixed rate (to profile it), no table.
  const only = process.env['ONLY'];
  const onlyIngressMax = only === 'ingress-max' || only === 'ingress-rate';
  try {
    if (onlyIngressMax) {
      await load('warm-up', 'http://127.0.0.1:3951', 3, connections);
      const rate = only === 'ingress-rate' ? fixedRate : undefined;
      const r = await load('ingress + Kafka (acks=all)', 'http://127.0.0.1:3951', durationS, connections, rate, ingress.child);
      console.log(`ingress at ${rate ?? 'max'} rate: ${r.rps.toFixed(0)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, errors ${r.errors}, non-2xx ${r.non2xx}, peak RSS ${r.peakRssMiB?.toFixed(0)} MiB, CPU µs/req ingress ${r.cpuUs.server.toFixed(0)} broker ${r.cpuUs.broker.toFixed(0)} generator ${r.cpuUs.generator.toFixed(0)}, steal ${(100 * r.steal).toFixed(0)} %`);
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
  console.log('| run | req/s | p50 ms | p99 ms | errors | non-2xx | peak RSS MiB | CPU µs/req: server | broker | load generator | steal |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    const cpu = `${r.cpuUs.server.toFixed(0)} | ${r.cpuUs.broker.toFixed(0)} | ${r.cpuUs.generator.toFixed(0)}`;
    console.log(`| ${r.name} | ${r.rps.toFixed(0)} | ${r.p50} | ${r.p99} | ${r.errors} | ${r.non2xx} | ${r.peakRssMiB?.toFixed(0) ?? ''} | ${cpu} | ${(100 * r.steal).toFixed(0)} % |`);
  }
  console.log(`\nIngress / bare throughput: ${(maxIngress.rps / maxBare.rps).toFixed(2)}`);
  // Steadier than throughput on a machine whose hypervisor takes a varying share (see the steal column).
  const serverCpu = (r: Result) => r.cpuUs.server;
  console.log(`Bare / ingress server CPU per request at ${fixedRate} req/s: ${(serverCpu(results[0]!) / serverCpu(results[1]!)).toFixed(2)}; at the maximum rate: ${(serverCpu(maxBare) / serverCpu(maxIngress)).toFixed(2)}`);
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
  const brokerPids = pidsMatching('kafka.Kafka');
  const cpuNow = () => ({
    server: child?.pid ? cpuMsOfPid(child.pid) : 0,
    broker: brokerPids.reduce((total, pid) => total + cpuMsOfPid(pid), 0),
    generator: cpuMsOfPid(process.pid),
  });
  const cpuBefore = cpuNow();
  const machineBefore = machineTicks();
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
        const cpuAfter = cpuNow();
        const perRequest = (ms: number) => (1000 * ms) / Math.max(1, result.requests.total);
        resolve({
          cpuUs: {
            server: perRequest(cpuAfter.server - cpuBefore.server),
            broker: perRequest(cpuAfter.broker - cpuBefore.broker),
            generator: perRequest(cpuAfter.generator - cpuBefore.generator),
          },
          steal: stealShare(machineBefore, machineTicks()),
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
