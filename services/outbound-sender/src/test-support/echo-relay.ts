// Stands in for ingress in the integration tests: receives the simulator's webhooks and publishes
// each `message_echoes` item as the `messenger.message.echoed` event ingress would publish (same
// deterministic id, same fields). Everything else the simulator posts is ignored. Echoes can be held
// back (to decide when they "arrive") and re-published (duplicates). Test support only.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { EventOf } from '@parley/contracts';
import { echoEvent } from './commands.ts';

export type Echo = EventOf<'messenger.message.echoed'>;

export type EchoRelay = {
  /** Give as the simulator's webhook URL. */
  url: string;
  /** Echoes published so far, oldest first. */
  published(): Echo[];
  /** Keep echoes back (they are published on release), as if Meta or ingress were slow. */
  hold(): void;
  /** Publishes what was held, and lets later echoes through. */
  release(): Promise<void>;
  stop(): Promise<void>;
};

export async function startEchoRelay(publish: (events: Echo[]) => Promise<void>): Promise<EchoRelay> {
  const published: Echo[] = [];
  const held: Echo[] = [];
  let holding = false;
  const app = express();
  app.use(express.json({ limit: '1mb' }));
  app.post('/webhook', async (req, res) => {
    const echoes: Echo[] = [];
    const body = req.body as { entry?: Array<{ id?: string; messaging?: unknown[] }> };
    for (const entry of body.entry ?? []) {
      for (const item of entry.messaging ?? []) {
        const messaging = item as { sender?: { id?: string }; recipient?: { id?: string }; timestamp?: number; message?: Record<string, unknown> };
        const message = messaging.message;
        if (!message || message['is_echo'] !== true) continue;
        echoes.push(
          echoEvent({
            pageId: String(messaging.sender?.id ?? entry.id),
            psid: String(messaging.recipient?.id),
            mid: String(message['mid']),
            appId: message['app_id'] === undefined ? null : String(message['app_id']),
            metadata: typeof message['metadata'] === 'string' ? message['metadata'] : null,
            text: typeof message['text'] === 'string' ? message['text'] : null,
            at: new Date(messaging.timestamp ?? Date.now()),
            raw: item,
          }),
        );
      }
    }
    try {
      if (holding) held.push(...echoes);
      else if (echoes.length > 0) {
        await publish(echoes);
        published.push(...echoes);
      }
      res.status(200).send('EVENT_RECEIVED');
    } catch {
      res.status(503).send('not stored'); // the simulator retries, as Meta does
    }
  });
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(0, '127.0.0.1', (error?: Error) => (error ? reject(error) : resolve(s)));
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/webhook`,
    published: () => [...published],
    hold() {
      holding = true;
    },
    async release() {
      holding = false;
      const echoes = held.splice(0);
      if (echoes.length > 0) {
        await publish(echoes);
        published.push(...echoes);
      }
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
