import { sendUpstream } from "../client";
import { bodyFor, type Provider, secretOf } from "./types";

/** DeepSeek's own API: the wire format is already ours, so bytes pass through untouched both ways. */
export const deepseekProvider: Provider = {
  send(call, target, env, signal) {
    const path =
      call.endpoint === "fim"
        ? "/beta/completions"
        : call.beta
          ? "/beta/chat/completions"
          : "/chat/completions";
    return sendUpstream(
      { name: target.name, baseUrl: target.baseUrl ?? "", apiKey: secretOf(env, target) },
      path,
      bodyFor(call),
      signal,
    );
  },
};
