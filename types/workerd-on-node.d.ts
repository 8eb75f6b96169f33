/**
 * Benchmarks import some Worker modules (pure pieces, types) into Node. These are the few workerd
 * globals those modules mention, declared just for the Node-side type check; the Worker itself is
 * checked against @cloudflare/workers-types and the generated Env in worker-configuration.d.ts.
 */
declare class IdentityTransformStream extends TransformStream<ArrayBuffer | ArrayBufferView, Uint8Array> {}
