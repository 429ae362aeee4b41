/**
 * What `npm start` runs and with which environment. docker-compose.yml and deploy/ (Kubernetes)
 * use the same names, ports and variables; services.test.ts checks that they agree.
 */

export type ProcessDefinition = {
  readonly name: string;
  /** The entrypoint, relative to the repository root. */
  readonly entry: string;
  readonly port: number;
  /** Whether it answers GET /healthz (every service does; the simulator is not a service). */
  readonly health: boolean;
  /** What a person opens in a browser or calls, for the summary. */
  readonly links: ReadonlyArray<{ readonly label: string; readonly path: string }>;
  /**
   * The V8 old generation's cap, MiB (`--max-old-space-size`). Without one V8 sizes it from the
   * machine's memory and lets garbage pile up: at 50 answers/s in the pipeline benchmark services
   * reached 246–356 MiB resident with 33–57 MiB of it live; with 160 MiB they stayed at 135–173
   * MiB, at the same rate and CPU. The projection has none: it folds a backlog's batches (up to
   * 24 MiB a fetch) in memory, and capped at 160 or 384 MiB it applied 1,000,000 events 7–12 %
   * slower (9,300–9,834 against 10,548 events/s); uncapped it stays at 184–212 MiB at 50 answers/s.
   */
  readonly heapMiB?: number;
};

export const SIMULATOR: ProcessDefinition = {
  name: 'meta-simulator',
  entry: 'tools/meta-simulator/src/main.ts',
  port: 3900,
  health: false,
  links: [
    { label: 'customer chat (plays Messenger)', path: '/_sim/chat' },
    { label: 'Graph API base URL', path: '' },
  ],
};

/**
 * How Node runs a service, wherever it runs (local stack, e2e, benchmarks; the Dockerfile sets the
 * same in NODE_OPTIONS):
 * - a 4 MiB young-generation semi-space: V8 sizes it from the machine's memory (up to 32 MiB here),
 *   and a service's resident memory followed: 280–360 MiB under load, 133–204 MiB with this, for
 *   no CPU cost the pipeline benchmark could tell apart from its noise (docs/benchmarks.md).
 * (Node 24's TimeoutNegativeWarning is no longer hidden: kafkajs's was a symptom of a timer loop,
 * now stopped in @parley/messaging, request-queue-fix.ts.)
 */
export const SERVICE_NODE_OPTIONS = ['--max-semi-space-size=4'] as const;

/** SERVICE_NODE_OPTIONS and the service's heap cap: how Node runs it (docker-compose.yml and deploy/ set the same NODE_OPTIONS). */
export function nodeOptionsFor(service: Pick<ProcessDefinition, 'heapMiB'>): string[] {
  return [...SERVICE_NODE_OPTIONS, ...(service.heapMiB !== undefined ? [`--max-old-space-size=${service.heapMiB}`] : [])];
}

/** The six services. Each consumes only topics that exist before it starts, so order does not matter. */
export const SERVICES: ReadonlyArray<ProcessDefinition> = [
  { name: 'ingress', entry: 'services/ingress/src/main.ts', port: 3001, health: true, heapMiB: 160, links: [{ label: 'Meta webhook', path: '/webhooks/messenger' }] },
  {
    name: 'auth-token',
    entry: 'services/auth-token/src/main.ts',
    port: 3002,
    health: true,
    heapMiB: 160,
    links: [{ label: 'connect a Page', path: '/v1/integrations/messenger/connect' }],
  },
  { name: 'rules', entry: 'services/rules/src/main.ts', port: 3003, health: true, heapMiB: 160, links: [] },
  { name: 'responder', entry: 'services/responder/src/main.ts', port: 3004, health: true, heapMiB: 160, links: [] },
  { name: 'outbound-sender', entry: 'services/outbound-sender/src/main.ts', port: 3005, health: true, heapMiB: 160, links: [] },
  {
    name: 'conversation-projection',
    entry: 'services/conversation-projection/src/main.ts',
    port: 3006,
    health: true,
    links: [{ label: 'inbox API (Authorization: Bearer dev-key)', path: '/v1/conversations' }],
  },
];

/**
 * Every port shifted by `offset` (PARLEY_PORT_OFFSET), so that a second stack (another
 * checkout, a test of npm start) can run beside the first.
 */
export function withPortOffset(offset: number): { simulator: ProcessDefinition; services: ProcessDefinition[] } {
  return {
    simulator: { ...SIMULATOR, port: SIMULATOR.port + offset },
    services: SERVICES.map((service) => ({ ...service, port: service.port + offset })),
  };
}

/**
 * Development-only secrets. They are public (they are in this repository), so they protect
 * nothing: never use them outside a local stack. deploy/ takes real ones from a Secret.
 */
export const DEV_SECRETS = {
  META_APP_ID: '900000000000001',
  META_APP_SECRET: 'parley-dev-app-secret',
  META_VERIFY_TOKEN: 'parley-dev-verify-token',
  /** A Fernet key (32 random bytes, URL-safe base64). */
  TOKEN_ENCRYPTION_KEYS: 'ZFa0GgV686MZ9re7ZoNyoSgG437-GBcLFZQBtKvx7Bg=',
  API_KEYS: 'acme:dev-key',
  /** Service-to-service calls (outbound-sender and the projection ask auth-token for page tokens). */
  INTERNAL_API_TOKEN: 'parley-dev-internal-token',
  /** Signs auth-token's OAuth `state`. */
  OAUTH_STATE_SECRET: 'parley-dev-oauth-state-secret-0123456789',
} as const;

export const GRAPH_API_VERSION = 'v25.0';

/** The variables every process gets: CONTRACTS.md's list plus the few the services add. */
export function sharedEnvironment(input: {
  kafkaBrokers: ReadonlyArray<string>;
  databaseUrl: string;
  simulatorPort?: number;
  authTokenPort?: number;
  host?: string;
}): Record<string, string> {
  const host = input.host ?? '127.0.0.1';
  const simulatorUrl = `http://${host}:${input.simulatorPort ?? SIMULATOR.port}`;
  return {
    KAFKA_BROKERS: input.kafkaBrokers.join(','),
    DATABASE_URL: input.databaseUrl,
    ...DEV_SECRETS,
    GRAPH_API_BASE_URL: simulatorUrl,
    GRAPH_API_VERSION,
    // `{version}` is filled in by the service, as in the production default.
    FACEBOOK_DIALOG_URL: `${simulatorUrl}/{version}/dialog/oauth`,
    AUTH_TOKEN_URL: `http://${host}:${input.authTokenPort ?? 3002}`,
    ADMIN_ACCOUNT_IDS: 'acme',
    NODE_ENV: 'development',
    LOG_LEVEL: 'info',
  };
}

/** The environment of one process: the shared variables, its port, and how others reach it. */
export function processEnvironment(
  definition: ProcessDefinition,
  shared: Record<string, string>,
  options: { ingressPort?: number; host?: string } = {},
): Record<string, string> {
  const host = options.host ?? '127.0.0.1';
  const own = `http://${host}:${definition.port}`;
  const extra: Record<string, string> =
    definition.name === SIMULATOR.name
      ? {
          // The simulator delivers signed webhooks to ingress, as Meta does.
          WEBHOOK_URL: `http://${host}:${options.ingressPort ?? 3001}/webhooks/messenger`,
          PUBLIC_URL: own,
          HOST: host,
        }
      : { PUBLIC_URL: own };
  return { ...shared, SERVICE_NAME: definition.name, PORT: String(definition.port), ...extra };
}
