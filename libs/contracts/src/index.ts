export * from './envelope.ts';
export * from './topics.ts';
export * from './define.ts';
export * from './events.ts';
export * from './codec.ts';
export * from './catalogue.ts';
