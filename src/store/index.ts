export * from './event-store.js';
export * from './errors.js';
export * from './connect.js';
export type { AppendCondition, AppendResult } from './member.js';
export type { ReadOptions, ReadPage } from './reader.js';
export type { SubscribeOptions, Subscription } from './subscription.js';
export { KeyLayout } from './keys.js';
export { REORDER_WINDOW } from './committer.js';
