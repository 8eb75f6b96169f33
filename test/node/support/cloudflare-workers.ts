/**
 * `cloudflare:workers` for Node-side tests that build something from the Worker's modules without
 * running them (the OpenAPI document): the classes are only extended at import, never constructed.
 */
export class DurableObject {}
export class WorkerEntrypoint {}
export const env = {};
