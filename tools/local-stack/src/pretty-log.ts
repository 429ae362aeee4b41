/**
 * Turns the JSON lines pino writes into one readable line each, prefixed by the process that
 * printed them, for `npm start`. Lines that are not pino JSON (a crash trace, Kafka's own output)
 * are shown as they are, with the same prefix, so nothing a process prints is hidden.
 */

export type FormatOptions = {
  /** ANSI colours (only for a terminal, and not when NO_COLOR is set). */
  color: boolean;
  /** Width the source names are padded to, so that messages line up. */
  sourceWidth: number;
};

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const LEVEL_COLOURS: Record<string, string> = {
  trace: '90',
  debug: '36',
  info: '32',
  warn: '33',
  error: '31',
  fatal: '41;97',
};
const SOURCE_COLOURS = ['36', '35', '34', '33', '32', '96', '95', '94', '93'];
/** Fields every line has, shown in the prefix already or of no use when reading locally. */
const HIDDEN_FIELDS = new Set(['level', 'time', 'msg', 'message', 'pid', 'hostname', 'service', 'name', 'v']);

function paint(color: boolean, code: string, text: string): string {
  return color ? `\u001b[${code}m${text}\u001b[0m` : text;
}

/** A stable colour per source name, so each process keeps its colour across runs. */
export function sourceColour(source: string): string {
  let hash = 0;
  for (const char of source) hash = (hash * 33 + char.charCodeAt(0)) >>> 0;
  return SOURCE_COLOURS[hash % SOURCE_COLOURS.length] ?? '36';
}

function clock(time: unknown): string {
  const date = typeof time === 'number' || typeof time === 'string' ? new Date(time) : new Date();
  const valid = Number.isNaN(date.getTime()) ? new Date() : date;
  return valid.toTimeString().slice(0, 8) + '.' + String(valid.getMilliseconds()).padStart(3, '0');
}

function levelName(level: unknown): string {
  if (typeof level === 'number') return LEVELS[level] ?? String(level);
  if (typeof level === 'string') return level;
  return 'info';
}

function renderValue(value: unknown): string {
  if (typeof value === 'string') return /[\s"=]/.test(value) || value === '' ? JSON.stringify(value) : value;
  if (value === null || typeof value !== 'object') return String(value);
  return JSON.stringify(value);
}

/** Formats one line a process printed; returns the text to show (possibly several lines for an error's stack). */
export function formatLogLine(source: string, line: string, options: FormatOptions): string {
  const prefix = paint(options.color, sourceColour(source), source.padEnd(options.sourceWidth)) + ' │';
  const record = parseRecord(line);
  if (record === undefined) return `${clock(undefined)}       ${prefix} ${line}`;

  const level = levelName(record['level']);
  const shownLevel = paint(options.color, LEVEL_COLOURS[level] ?? '37', level.toUpperCase().padEnd(5));
  const message = typeof record['msg'] === 'string' ? record['msg'] : typeof record['message'] === 'string' ? record['message'] : '';
  const fields: string[] = [];
  let stack: string | undefined;
  for (const [key, value] of Object.entries(record)) {
    if (HIDDEN_FIELDS.has(key)) continue;
    if ((key === 'err' || key === 'error') && value !== null && typeof value === 'object') {
      const error = value as { type?: unknown; message?: unknown; stack?: unknown };
      fields.push(`${key}=${renderValue(`${String(error.type ?? 'Error')}: ${String(error.message ?? '')}`)}`);
      if (typeof error.stack === 'string') stack = error.stack;
      continue;
    }
    fields.push(`${key}=${renderValue(value)}`);
  }
  const details = fields.length > 0 ? ' ' + paint(options.color, '90', fields.join(' ')) : '';
  const head = `${clock(record['time'])} ${shownLevel} ${prefix} ${message}${details}`;
  if (stack === undefined) return head;
  const indent = ' '.repeat(20 + options.sourceWidth);
  return [head, ...stack.split('\n').slice(1).map((frame) => `${indent}${paint(options.color, '90', frame.trim())}`)].join('\n');
}

function parseRecord(line: string): Record<string, unknown> | undefined {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{') || !trimmed.endsWith('}')) return undefined;
  try {
    const parsed: unknown = JSON.parse(trimmed);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
    const record = parsed as Record<string, unknown>;
    // Only pino-like records: others (any JSON a process prints) are shown as they are.
    return 'level' in record && ('msg' in record || 'message' in record || 'time' in record) ? record : undefined;
  } catch {
    return undefined;
  }
}
