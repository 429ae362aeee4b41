// What other tools reuse of the end-to-end support (the reply-pipeline benchmark): the whole
// platform as processes beside the simulator, and the steps a Page admin and a customer take.
export { startStack, ACCOUNT, API_KEY } from './test-support/stack.ts';
export type { Stack, StackOptions, ServiceName } from './test-support/stack.ts';
export { connectNewPage, connectPage, createAssistant, saveSettings, messagesSentTo, senderActionsTo } from './test-support/flows.ts';
export type { ConnectedPage, Settings } from './test-support/flows.ts';
