// Helpers for the simulator's own HTTP tests: a small Graph client and a webhook receiver that keeps
// the raw bytes and headers of every POST and answers with scripted status codes.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';

export interface GraphCall {
  status: number;
  body: Record<string, unknown> & { error?: { code: number; error_subcode?: number; message: string; type: string; fbtrace_id: string } };
  headers: Headers;
}

/** Calls the simulator like a Graph client: params in the query for GET/DELETE, JSON body for POST. */
export async function graph(baseUrl: string, method: string, path: string, params: Record<string, unknown> = {}, init: { signal?: AbortSignal } = {}): Promise<GraphCall> {
  const url = new URL(path, baseUrl);
  let body: string | undefined;
  if (method === 'GET' || method === 'DELETE') {
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, typeof v === 'string' ? v : JSON.stringify(v));
  } else {
    body = JSON.stringify(params);
  }
  const response = await fetch(url, {
    method,
    ...(body === undefined ? {} : { body, headers: { 'content-type': 'application/json' } }),
    ...(init.signal ? { signal: init.signal } : {}),
  });
  return { status: response.status, body: (await response.json()) as GraphCall['body'], headers: response.headers };
}

// Control API answers are read loosely in tests; the assertions say what matters.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function control(baseUrl: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(new URL(path, baseUrl), {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
}

export interface ReceivedWebhook {
  raw: Buffer;
  headers: Record<string, string | string[] | undefined>;
  answeredWith: number;
}

export interface WebhookReceiver {
  url: string;
  received: ReceivedWebhook[];
  /** Status codes to answer with, in order; 200 once they run out. */
  script: number[];
  close(): Promise<void>;
}

export async function startReceiver(): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const script: number[] = [];
  const app = express();
  // The verification handshake as the product answers it, with verify token "vt" (§1a).
  app.get('/webhook', (req, res) => {
    if (req.query['hub.mode'] === 'subscribe' && req.query['hub.verify_token'] === 'vt') res.status(200).send(String(req.query['hub.challenge']));
    else res.sendStatus(403);
  });
  app.post('/webhook', express.raw({ type: () => true, limit: '5mb' }), (req, res) => {
    const status = script.shift() ?? 200;
    received.push({ raw: req.body as Buffer, headers: req.headers, answeredWith: status });
    res.status(status).send(status === 200 ? 'EVENT_RECEIVED' : 'nope');
  });
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webhook`,
    received,
    script,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Polls until the check passes (never a fixed sleep); fails with the last error after the deadline. */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}
