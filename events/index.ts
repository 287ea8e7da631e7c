export * from './envelope.js';
export * from './catalogue.js';
export * from './tags.js';
export * from './codec.js';
