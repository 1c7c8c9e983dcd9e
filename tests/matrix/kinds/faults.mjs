// The fault models every emulator serves by name (docs/adapters.md): the
// model a kind's error rows call. What the gateway answers for each is the
// row's own expectation (rows.mjs).
export const FAULT_MODEL = {
  'error-400': 'fault-400',
  'error-401': 'fault-401',
  'error-429': 'fault-429',
  'error-5xx': 'fault-500',
  'error-503': 'fault-503',
  'error-mid-stream': 'error-mid-stream',
  'reset-mid-stream': 'reset-mid-stream',
  'malformed-line': 'malformed-chunk',
  stall: 'stall',
};
