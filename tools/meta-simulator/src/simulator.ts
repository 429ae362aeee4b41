// Assembles the simulator: state + clock + webhook dispatcher + HTTP (Graph API, OAuth dialog,
// control API, chat page). `createMetaSimulator` gives an express app to mount or test in-process;
// `startMetaSimulator` also listens (port 0 in tests) and knows how to stop cleanly.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { createSimClock, type SimClock } from './clock.ts';
import { controlRouter } from './control-routes.ts';
import { graphErrorBody, graphErrors } from './graph-errors.ts';
import { graphRouter, newFbtraceId } from './graph-routes.ts';
import type { SimState } from './model.ts';
import { MetaPlatform, type SimSettings, type StickerFormat } from './platform.ts';
import { DEFAULT_SEND_RATE_PER_SECOND } from './rules.ts';
import { DEFAULT_RETRY_POLICY, WebhookDispatcher, type RawDeliveryOptions, type RetryPolicy, type WebhookDelivery } from './webhook-delivery.ts';
import type { PageEvent } from './webhook-payloads.ts';

export interface MetaSimulatorOptions {
  /** The Meta app the product is configured with (`META_APP_ID`). */
  appId?: string;
  /** Signs webhooks and authenticates code exchanges (`META_APP_SECRET`). */
  appSecret?: string;
  appName?: string;
  /** Where signed webhooks are posted (`WEBHOOK_URL`); without it deliveries are logged as skipped. */
  webhookUrl?: string;
  /** The version the product is pinned to; every `vNN.N` is served, this one is advertised. Default v25.0. */
  graphApiVersion?: string;
  /** Freeze the clock at this epoch-ms time (tests); otherwise it follows wall time plus advances. */
  frozenAt?: number;
  /** Bring your own clock. */
  clock?: SimClock;
  autoEcho?: boolean;
  autoDelivery?: boolean;
  autoRead?: boolean;
  /** Deliver only fields the Page subscribed the app to. Default true, as at Meta. */
  requireSubscription?: boolean;
  batchWindowMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Per-attempt timeout of webhook POSTs; Meta's is 20 s. */
  webhookTimeoutMs?: number;
  /**
   * `global` (default): one webhook POST at a time, in the order made. `per-page`: each Page's in
   * order, different Pages' side by side — for load tests with many Pages.
   */
  webhookOrder?: 'global' | 'per-page';
  sendRateLimitPerSecond?: number;
  stickerFormat?: StickerFormat;
  codeExchangeTokenLifetimeSec?: number;
  /** Base URL of this simulator as the product reaches it (media URLs in webhooks). */
  publicUrl?: string;
  /** `/` in webhook bodies becomes `\/` like Meta's encoder. Default true. */
  escapeSlashes?: boolean;
  allowedRedirectUris?: string[];
  /** Keep at most this many deliveries in the log. Default 1000. */
  deliveryLogLimit?: number;
  log?: (line: string) => void;
}

export interface MetaSimulator {
  /** The express app: Graph API under /{version}/…, control API under /_sim. */
  readonly app: Express;
  /** Operations on the simulated platform (create pages/customers, act as a customer, revoke tokens…). */
  readonly platform: MetaPlatform;
  /** The in-memory domain state (replaced by reset, so read it through this getter). */
  readonly state: SimState;
  readonly clock: SimClock;
  readonly settings: SimSettings;
  readonly graphApiVersion: string;
  /** Posts events as webhooks (subject to the Page's subscriptions), one `entry` per event. */
  deliverEvents(events: PageEvent | readonly PageEvent[]): Promise<WebhookDelivery[]>;
  /** Posts any payload, signed (unless `signature` overrides it): for tests of odd or hostile input. */
  deliverWebhook(payload: unknown, options?: RawDeliveryOptions): Promise<WebhookDelivery>;
  /** The delivery log, oldest first. */
  deliveries(): readonly WebhookDelivery[];
  /** Resolves when no webhook waits to be posted; `flush` posts an open batch at once. */
  whenIdle(options?: { flush?: boolean }): Promise<void>;
  /** Stops retries and aborts in-flight deliveries. */
  close(): Promise<void>;
}

export interface RunningMetaSimulator extends MetaSimulator {
  /** e.g. http://127.0.0.1:39123 — use as GRAPH_API_BASE_URL. */
  readonly url: string;
  readonly port: number;
  /** `${url}/${graphApiVersion}/dialog/oauth`: use as FACEBOOK_DIALOG_URL. */
  readonly dialogUrl: string;
  readonly server: Server;
  /** Closes the server (hung requests included) and the dispatcher. */
  stop(): Promise<void>;
}

export function createMetaSimulator(options: MetaSimulatorOptions = {}): MetaSimulator {
  const clock = options.clock ?? createSimClock(options.frozenAt === undefined ? {} : { frozenAt: options.frozenAt });
  const settings: SimSettings = {
    webhookUrl: options.webhookUrl,
    autoEcho: options.autoEcho ?? true,
    autoDelivery: options.autoDelivery ?? true,
    autoRead: options.autoRead ?? false,
    requireSubscription: options.requireSubscription ?? true,
    batchWindowMs: options.batchWindowMs ?? 0,
    retry: { ...DEFAULT_RETRY_POLICY, ...options.retry },
    sendRateLimitPerSecond: options.sendRateLimitPerSecond ?? DEFAULT_SEND_RATE_PER_SECOND,
    stickerFormat: options.stickerFormat ?? 'both',
    codeExchangeTokenLifetimeSec: options.codeExchangeTokenLifetimeSec ?? 3600,
    publicUrl: options.publicUrl ?? 'http://localhost:3900',
    allowedRedirectUris: options.allowedRedirectUris,
  };
  const appSecret = options.appSecret ?? 'simulated-app-secret';
  const dispatcher: WebhookDispatcher = new WebhookDispatcher({
    getUrl: () => settings.webhookUrl,
    getSecret: (): string => appSecret,
    getRetryPolicy: () => settings.retry,
    getBatchWindowMs: () => settings.batchWindowMs,
    timeoutMs: options.webhookTimeoutMs ?? 20_000,
    escapeSlashes: options.escapeSlashes ?? true,
    logLimit: options.deliveryLogLimit ?? 1000,
    orderPerPage: options.webhookOrder === 'per-page',
  });
  const platform: MetaPlatform = new MetaPlatform({
    app: { id: options.appId ?? '1234567890123456', secret: appSecret, name: options.appName ?? 'Parley (simulated app)' },
    clock,
    settings,
    dispatcher,
    ...(options.log ? { log: options.log } : {}),
  });
  const graphApiVersion = options.graphApiVersion ?? 'v25.0';
  const hanging = new Set<Response>();

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.get('/', (_req, res) => {
    res.json({
      simulator: 'Meta platform simulator',
      graphApiVersion,
      graphApiBaseUrl: settings.publicUrl,
      dialogUrl: `${settings.publicUrl}/${graphApiVersion}/dialog/oauth`,
      control: `${settings.publicUrl}/_sim`,
      chat: `${settings.publicUrl}/_sim/chat`,
    });
  });
  app.use('/_sim', controlRouter(platform));
  app.use(graphRouter(platform, hanging));
  app.use((req: Request, res: Response) => {
    res.status(404).json(graphErrorBody(graphErrors.unsupportedRequest(req.method === 'GET' ? 'get' : 'post', req.path.replace(/^\//, '')), newFbtraceId()));
  });
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    // An unexpected failure inside the simulator looks like Meta's own: code 1, HTTP 500.
    options.log?.(`simulator error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    if (!res.headersSent) res.status(500).json(graphErrorBody(graphErrors.unknownError(), newFbtraceId()));
  });

  const simulator: MetaSimulator & { hanging: Set<Response> } = {
    app,
    platform,
    get state() {
      return platform.state;
    },
    clock,
    settings,
    graphApiVersion,
    hanging,
    deliverEvents: (events) => platform.emit(Array.isArray(events) ? events : [events as PageEvent]),
    deliverWebhook: (payload, deliveryOptions) => dispatcher.enqueuePayload(payload, deliveryOptions),
    deliveries: () => dispatcher.list(),
    whenIdle: (idleOptions) => dispatcher.whenIdle(idleOptions),
    close: async () => {
      dispatcher.close();
      for (const res of hanging) res.socket?.destroy();
      hanging.clear();
    },
  };
  return simulator;
}

/** Creates the simulator and listens; `port: 0` picks a free port (tests). */
export async function startMetaSimulator(options: MetaSimulatorOptions & { port?: number; host?: string } = {}): Promise<RunningMetaSimulator> {
  const simulator = createMetaSimulator(options);
  const host = options.host ?? '127.0.0.1';
  const server = await new Promise<Server>((resolve, reject) => {
    const s = simulator.app.listen(options.port ?? 0, host, (error?: Error) => (error ? reject(error) : resolve(s)));
  });
  const port = (server.address() as AddressInfo).port;
  const url = options.publicUrl ?? `http://${host === '0.0.0.0' || host === '::' ? 'localhost' : host}:${port}`;
  simulator.settings.publicUrl = url;
  const stop = async (): Promise<void> => {
    await simulator.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return Object.assign(simulator, { url, port, dialogUrl: `${url}/${simulator.graphApiVersion}/dialog/oauth`, server, stop });
}
