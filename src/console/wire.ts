// What the console's API answers: shared by the daemon's route (reads.ts) and the page (page/), so both say the same.

export const CellState = { Outside: 0, Free: 1, Allocated: 2, Reserved: 3, Excluded: 4, Infrastructure: 5 } as const;
export type CellState = (typeof CellState)[keyof typeof CellState];
export type CellName = keyof typeof CellState;

export type Utilization = 'ok' | 'high' | 'exhausted';

export interface PoolSummary {
  readonly name: string;
  readonly ipVersion: 4 | 6;
  readonly subnet: string;
  /** spec.ips less excludeIPs, as SpiderIPPool's status.totalIPCount counts them; a decimal string (IPv6 pools exceed 2^53). */
  readonly total: string;
  /** What it may hand out: total less network, broadcast, gateway and SpiderReservedIP addresses. */
  readonly allocatable: string;
  readonly allocated: number;
  readonly reserved: number;
  /** allocated / allocatable. */
  readonly utilization: number;
  readonly state: Utilization;
  readonly disabled: boolean;
  readonly isDefault: boolean;
}

export interface SubnetSummary {
  readonly name: string;
  readonly ipVersion: 4 | 6;
  readonly subnet: string;
  readonly total: string;
  readonly pools: readonly string[];
  readonly allocated: number;
  readonly utilization: number;
  readonly state: Utilization;
}

export interface Overview {
  readonly revision: number;
  readonly pools: readonly PoolSummary[];
  readonly subnets: readonly SubnetSummary[];
}

export interface Holder {
  /** Cell index in the page. */
  readonly cell: number;
  readonly address: string;
  readonly pod: string;
  readonly nic: string;
  readonly containerID: string;
  readonly node?: string;
  readonly allocationId: string;
  /** Revision at which the address was allocated. */
  readonly since: number;
}

export interface PoolMap {
  readonly pool: string;
  readonly ipVersion: 4 | 6;
  readonly subnet: string;
  readonly revision: number;
  /** Address of cell 0 of this page. */
  readonly first: string;
  /** This page and how many there are (decimal strings: an IPv6 subnet has up to 2^112 pages). */
  readonly page: string;
  readonly pages: string;
  readonly cellCount: number;
  /** One byte per cell (CellState), base64. */
  readonly cells: string;
  readonly holders: readonly Holder[];
  readonly counts: Readonly<Record<CellName, number>>;
}

export interface EndpointView {
  readonly namespace: string;
  readonly name: string;
  readonly nic: string;
  readonly containerID: string;
  readonly uid?: string;
  readonly node?: string;
  readonly owner?: string;
  readonly addresses: readonly { readonly address: string; readonly prefixLength: number; readonly pool: string; readonly since: number }[];
}

export interface EndpointSearch {
  readonly revision: number;
  readonly items: readonly EndpointView[];
  readonly truncated: boolean;
}

export type { Holding } from '../../projections/holding.js';
import type { Holding } from '../../projections/holding.js';

export interface HistoryAnswer {
  readonly revision: number;
  readonly holdings: readonly Holding[];
}
