// One holding of an address, as the history of an address, a pod or a pool lists them (no imports: the web
// console's page uses the same type).
export interface Holding {
  readonly address: string;
  readonly pool: string;
  readonly allocationId: string;
  readonly pod: string;
  readonly nic: string;
  readonly containerID: string;
  readonly from: { readonly revision: number; readonly at: string };
  /** Absent while still held. */
  readonly until?: { readonly revision: number; readonly at: string; readonly reason: string };
}
