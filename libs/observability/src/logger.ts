import { pino, stdSerializers, stdTimeFunctions } from 'pino';
import type { DestinationStream, Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

/**
 * Paths pino removes from every log line. Tokens, secrets and signatures must never reach logs,
 * whatever object carries them (a request, a Graph call, a config dump).
 */
export const REDACTED_PATHS = [
  'token',
  'accessToken',
  'access_token',
  'pageToken',
  'userToken',
  'appSecret',
  'secret',
  'password',
  'apiKey',
  'signature',
  'authorization',
  'cookie',
  '*.token',
  '*.accessToken',
  '*.access_token',
  '*.pageToken',
  '*.userToken',
  '*.appSecret',
  '*.secret',
  '*.password',
  '*.apiKey',
  '*.signature',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-hub-signature-256"]',
  'req.headers["x-hub-signature"]',
  'headers.authorization',
  'headers["x-hub-signature-256"]',
  'headers["x-hub-signature"]',
];

// Tokens also hide inside strings (URLs with ?access_token=, error messages); scrub those too.
const SECRET_IN_TEXT = /((?:access_token|input_token|fb_exchange_token|client_secret|appsecret_proof|code)=)[^&\s"']+/gi;

/** Replaces token-bearing query parameters in a string with `[REDACTED]`. */
export function scrubSecrets(text: string): string {
  return text.replace(SECRET_IN_TEXT, '$1[REDACTED]');
}

export type LoggerOptions = {
  service: string;
  level?: string;
  /** For tests: where lines go (default stdout). */
  destination?: { write(line: string): void };
};

/** The process logger: JSON lines, the service's name on each, secrets redacted. */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      name: options.service,
      level: options.level ?? process.env['LOG_LEVEL'] ?? 'info',
      base: { service: options.service },
      redact: { paths: REDACTED_PATHS, censor: '[REDACTED]' },
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      hooks: {
        // Scrub string arguments (messages) as well as fields: a URL with a token in a message
        // would otherwise slip past path-based redaction.
        logMethod(args, method) {
          const scrubbed = args.map((arg) => (typeof arg === 'string' ? scrubSecrets(arg) : arg));
          return method.apply(this, scrubbed as Parameters<typeof method>);
        },
      },
      serializers: {
        err: (error: unknown) => {
          const serialized = stdSerializers.err(error as Error);
          if (serialized && typeof serialized.message === 'string') serialized.message = scrubSecrets(serialized.message);
          if (serialized && typeof serialized.stack === 'string') serialized.stack = scrubSecrets(serialized.stack);
          return serialized;
        },
      },
    },
    options.destination ? (options.destination as DestinationStream) : undefined,
  );
}
