// Structured logs on stderr (pino): readable lines on a terminal, JSON lines otherwise (or when asked).
// Never log tokens, keys or certificates.
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

import type { LogFormat } from './log-options.js';

export interface LoggerOptions {
  /** Default $IPAM_LOG_LEVEL, else info. */
  readonly level?: string;
  /** auto (default, $IPAM_LOG_FORMAT): pretty when stderr is a terminal, JSON otherwise. */
  readonly format?: LogFormat;
}

const REDACT = ['token', 'authorization', '*.authorization', 'password'];

export function createLogger(o: LoggerOptions = {}): Logger {
  const level = o.level ?? (process.env.IPAM_LOG_LEVEL || 'info');
  const format = o.format ?? ((process.env.IPAM_LOG_FORMAT || 'auto') as LogFormat);
  const opts = { name: 'ipam', level, base: { pid: process.pid }, redact: REDACT };
  if (format === 'pretty' || (format === 'auto' && process.stderr.isTTY)) {
    // Synchronous, on this thread: a log line is on the terminal before the process can die (no transport worker).
    return pino(opts, pretty({ destination: 2, sync: true, colorize: Boolean(process.stderr.isTTY), translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }));
  }
  return pino(opts, pino.destination(2));
}
