import { describe, expect, it } from "vitest";
import { layerOf } from "../../../bench/scenarios/layers";

describe("the layers profile's attribution of perf samples", () => {
  it.each([
    ["[JIT] tid 4242", "JS:*serveInference index.js:15835:30", false, "JavaScript (JIT-compiled)"],
    ["workerd", "Builtins_PromiseFulfillReactionJob", false, "V8 builtins"],
    ["workerd", "v8::internal::GlobalHandles::Create", false, "V8 runtime and GC (C++)"],
    [
      "workerd",
      "cppgc::internal::MarkerBase::ProcessWorklistsWithDeadline",
      false,
      "V8 runtime and GC (C++)",
    ],
    ["workerd", "workerd::api::Headers::~Headers", false, "workerd: APIs, bindings, request context"],
    ["workerd", "kj::_::ChainPromiseNode::fire", false, "kj: event loop, promises, HTTP, strings"],
    [
      "workerd",
      "<hyper::proto::h1::role::Server as hyper::proto::h1::Http1Transaction>::parse",
      false,
      "Rust: HTTP server and client (hyper, tokio)",
    ],
    [
      "workerd",
      "tcmalloc::tcmalloc_internal::ThreadCache::ReleaseToTransferCache",
      false,
      "memory allocator",
    ],
    ["libc.so.6", "__memmove_avx512_unaligned_erms", false, "C library: memory copies, clocks"],
    ["[kernel.kallsyms]", "tcp_sendmsg", true, "kernel (sockets, scheduling)"],
    ["workerd", "sqlite3BtreeIndexMoveto", false, "other"],
  ] as const)("%s %s → %s", (dso, symbol, kernel, layer) => {
    expect(layerOf(dso, symbol, kernel)).toBe(layer);
  });
});
