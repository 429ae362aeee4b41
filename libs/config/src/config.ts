import { z } from 'zod';

/** Thrown when the environment is not what the service needs; its message lists every problem. */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(service: string, problems: string[]) {
    super(`${service} cannot start; fix its configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/**
 * Validates the environment against a schema of variables (`{ KAFKA_BROKERS: kafkaBrokers, ... }`)
 * and returns the typed values. Every missing or bad variable is reported at once, never one per restart.
 */
export function loadConfig<TShape extends z.ZodRawShape>(
  service: string,
  shape: TShape,
  env: Record<string, string | undefined> = process.env,
): z.infer<z.ZodObject<TShape>> {
  const result = z.object(shape).safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = String(issue.path[0] ?? '(environment)');
    const given = env[String(issue.path[0])];
    return given === undefined || given === '' ? `${name} is missing: ${issue.message}` : `${name} is invalid: ${issue.message}`;
  });
  throw new ConfigError(service, problems);
}

/**
 * Loads the configuration or ends the process with one clear message (exit code 78, EX_CONFIG).
 * For `main.ts` entrypoints only.
 */
export function loadConfigOrExit<TShape extends z.ZodRawShape>(service: string, shape: TShape): z.infer<z.ZodObject<TShape>> {
  try {
    return loadConfig(service, shape);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78);
    }
    throw error;
  }
}

const nonEmpty = z.string({ error: 'required' }).trim().min(1, 'must not be empty');

/** Reusable variable schemas, one definition per variable named in CONTRACTS.md. */
export const env = {
  kafkaBrokers: nonEmpty
    .transform((value) => value.split(',').map((b) => b.trim()).filter(Boolean))
    .pipe(z.array(z.string().regex(/^[^:\s]+:\d+$/, 'each broker must be host:port')).min(1)),
  /** KAFKA_NAMESPACE: a prefix for every topic and consumer group (environments sharing a cluster). */
  kafkaNamespace: z
    .string()
    .trim()
    .regex(/^[a-zA-Z0-9._-]{0,100}$/, 'letters, digits, ".", "_" and "-" only')
    .default(''),
  databaseUrl: nonEmpty.refine((v) => /^postgres(ql)?:\/\//.test(v), 'must be a postgres:// URL'),
  port: (fallback: number) => z.coerce.number().int().min(0).max(65_535).default(fallback),
  string: nonEmpty,
  optionalString: z.string().trim().optional(),
  url: (fallback?: string) => (fallback === undefined ? z.url() : z.url().default(fallback)),
  /** A comma-separated list (e.g. app secrets during a rotation, newest first). */
  list: nonEmpty.transform((value) => value.split(',').map((v) => v.trim()).filter(Boolean)).pipe(z.array(z.string()).min(1)),
  graphApiVersion: z.string().regex(/^v\d+\.\d+$/, 'must look like v25.0').default('v25.0'),
  /** `accountId:key` pairs, comma-separated. */
  apiKeys: nonEmpty.transform((value, ctx) => {
    const pairs = value.split(',').map((pair) => pair.trim()).filter(Boolean);
    const keys = new Map<string, string>();
    for (const pair of pairs) {
      const separator = pair.indexOf(':');
      if (separator <= 0 || separator === pair.length - 1) {
        ctx.addIssue({ code: 'custom', message: 'each entry must be accountId:key' });
        return z.NEVER;
      }
      keys.set(pair.slice(separator + 1), pair.slice(0, separator));
    }
    return keys; // key → accountId
  }),
  boolean: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0'])
      .default(fallback ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1'),
  /**
   * DATABASE_PREPARED_STATEMENTS: PostgreSQL prepares the services' repeated statements once per
   * connection (default). Set false behind a pooler in transaction mode that cannot keep them.
   */
  databasePreparedStatements: z
    .enum(['true', 'false', '1', '0'])
    .default('true')
    .transform((v) => v === 'true' || v === '1'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
};
