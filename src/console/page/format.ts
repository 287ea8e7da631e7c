// Small display helpers.
import type { Utilization } from '../wire.js';

export const percent = (x: number): string => `${(x * 100).toFixed(x > 0 && x < 0.01 ? 2 : 1)}%`;

/** A decimal count that may exceed 2^53 (IPv6 pools), grouped for reading. */
export function bigCount(decimal: string): string {
  if (decimal.length > 15) return `${decimal.slice(0, 3)}…e${decimal.length - 1} (${decimal.length} digits)`;
  return Number(decimal).toLocaleString('en-US');
}

export const utilizationLabel: Readonly<Record<Utilization, string>> = { ok: '', high: 'nearly exhausted', exhausted: 'exhausted' };

export const time = (iso: string): string => iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
