// Structured logs (JSON lines on stderr, pino). Never log tokens, keys or certificates.
import { pino, type Logger } from 'pino';

export function createLogger(level = process.env.IPAM_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name: 'ipam', level, base: { pid: process.pid }, redact: ['token', 'authorization', '*.authorization', 'password'] }, pino.destination(2));
}
