import { describe, expect, it } from "vitest";
import { AUTH, chatBody, fastSim, post } from "./helpers";

type ErrorBody = { error: { message: string; type: string; param: null; code: string } };

async function expectError(
  res: Response | Promise<Response>,
  status: number,
  message: string | RegExp,
  type = "invalid_request_error",
) {
  const r = await res;
  expect(r.status).toBe(status);
  expect(r.headers.get("content-type")).toBe("application/json");
  expect(r.headers.get("x-ds-trace-id")).toMatch(/^[0-9a-f]{32}$/);
  const body = (await r.json()) as ErrorBody;
  expect(Object.keys(body.error)).toEqual(["message", "type", "param", "code"]);
  expect(body.error.type).toBe(type);
  expect(body.error.param).toBeNull();
  if (typeof message === "string") expect(body.error.message).toBe(message);
  else expect(body.error.message).toMatch(message);
  return body.error;
}

const json = { "content-type": "application/json" };

describe("authentication", () => {
  it("rejects a missing or malformed header", async () => {
    const sim = fastSim();
    const msg = "Authentication Fails (auth header format should be Bearer sk-...)";
    const e = await expectError(
      post(sim, "/chat/completions", chatBody(), { headers: json }),
      401,
      msg,
      "authentication_error",
    );
    expect(e.code).toBe("invalid_request_error");
    await expectError(
      post(sim, "/chat/completions", chatBody(), { headers: { ...json, authorization: "sk-abc" } }),
      401,
      msg,
      "authentication_error",
    );
    await expectError(sim.app.request("/models"), 401, msg, "authentication_error");
  });

  it("rejects keys that are not sk- keys, or not configured ones, showing the last four characters", async () => {
    await expectError(
      post(fastSim(), "/chat/completions", chatBody(), {
        headers: { ...json, authorization: "Bearer null" },
      }),
      401,
      "Authentication Fails, Your api key: ****null is invalid",
      "authentication_error",
    );
    const sim = fastSim({ apiKeys: ["sk-good0000000000000000000000000000"] });
    await expectError(
      post(sim, "/chat/completions", chatBody()),
      401,
      "Authentication Fails, Your api key: ****0001 is invalid",
      "authentication_error",
    );
    const ok = await post(sim, "/chat/completions", chatBody(), {
      headers: { ...json, authorization: "Bearer sk-good0000000000000000000000000000" },
    });
    expect(ok.status).toBe(200);
  });
});

describe("balance", () => {
  it("returns 402 Insufficient Balance when the balance is used up", async () => {
    await expectError(
      post(fastSim({ balance: 0 }), "/chat/completions", chatBody()),
      402,
      "Insufficient Balance",
      "unknown_error",
    );
  });

  it("charges usage against the key's balance", async () => {
    const sim = fastSim({ balance: 0.000001 });
    expect((await post(sim, "/chat/completions", chatBody())).status).toBe(200);
    await expectError(
      post(sim, "/chat/completions", chatBody()),
      402,
      "Insufficient Balance",
      "unknown_error",
    );
    const balance = (await (await sim.app.request("/user/balance", { headers: AUTH })).json()) as {
      is_available: boolean;
    };
    expect(balance.is_available).toBe(false);
  });
});

describe("request validation", () => {
  it("answers Model Not Exist for names outside the era", async () => {
    await expectError(
      post(fastSim(), "/chat/completions", chatBody({ model: "deepseek-chat" })),
      400,
      "Model Not Exist",
    );
    await expectError(
      post(fastSim({ era: "legacy" }), "/chat/completions", chatBody({ model: "deepseek-v4-pro" })),
      400,
      "Model Not Exist",
    );
    expect(
      (await post(fastSim({ era: "v4" }), "/chat/completions", chatBody({ model: "deepseek-reasoner" })))
        .status,
    ).toBe(200);
  });

  it("checks the max_tokens range per model and era", async () => {
    const v4 = "Invalid max_tokens value, the valid range of max_tokens is [1, 393216]";
    await expectError(post(fastSim(), "/chat/completions", chatBody({ max_tokens: 0 })), 400, v4);
    await expectError(post(fastSim(), "/chat/completions", chatBody({ max_tokens: 393217 })), 400, v4);
    const legacy = fastSim({ era: "legacy" });
    await expectError(
      post(legacy, "/chat/completions", chatBody({ model: "deepseek-chat", max_tokens: 8193 })),
      400,
      "Invalid max_tokens value, the valid range of max_tokens is [1, 8192]",
    );
    await expectError(
      post(legacy, "/chat/completions", chatBody({ model: "deepseek-reasoner", max_tokens: 70000 })),
      400,
      "Invalid max_tokens value, the valid range of max_tokens is [1, 65536]",
    );
  });

  it("reports deserialization errors like serde (400 now, 422 in the legacy era)", async () => {
    const body =
      '{\n  "model": "deepseek-flash",\n  "messages": [\n    {"role": "user", "content": "hi"},\n    {"role": "user"}\n  ]\n}';
    await expectError(
      post(fastSim(), "/chat/completions", body),
      400,
      "Failed to deserialize the JSON body into the target type: messages[1]: missing field `content` at line 5 column 20",
    );
    await expectError(
      post(fastSim(), "/chat/completions", '{"model":"deepseek-flash"}'),
      400,
      "Failed to deserialize the JSON body into the target type: missing field `messages` at line 1 column 26",
    );
    await expectError(
      post(fastSim(), "/chat/completions", chatBody({ max_tokens: "5" })),
      400,
      /^Failed to deserialize the JSON body into the target type: max_tokens: invalid type: string "5", expected u32 at line 1 column \d+$/,
    );
    await expectError(
      post(fastSim(), "/chat/completions", chatBody({ messages: [{ role: "robot", content: "x" }] })),
      400,
      /messages\[0\]: unknown variant `robot`, expected one of `system`, `user`, `assistant`, `tool`/,
    );
    await expectError(
      post(
        fastSim({ era: "legacy" }),
        "/chat/completions",
        chatBody({
          model: "deepseek-chat",
          messages: [{ role: "user", content: [{ type: "text", text: "x" }] }],
        }),
      ),
      422,
      /messages\[0\]: invalid type: sequence, expected a string at line 1 column \d+$/,
    );
    await expectError(
      post(fastSim(), "/chat/completions", '{"model": '),
      400,
      /^Failed to parse the request body as JSON: /,
    );
  });

  it("rejects a non-function tool type and image parts on a model without vision", async () => {
    await expectError(
      post(
        fastSim(),
        "/chat/completions",
        chatBody({ tools: [{ type: "retrieval", function: { name: "x" } }] }),
      ),
      400,
      /tools\[0\]\.type: unknown variant `retrieval`, expected `function`/,
    );
    const image = [
      {
        role: "user",
        content: [
          { type: "text", text: "what is this" },
          { type: "image_url", image_url: { url: "https://x/y.png" } },
        ],
      },
    ];
    await expectError(
      post(fastSim(), "/chat/completions", chatBody({ model: "deepseek-v4-pro", messages: image })),
      400,
      /messages\[0\]: data did not match any variant of untagged enum ChatCompletionRequestContent/,
    );
    const res = await post(fastSim(), "/chat/completions", chatBody({ messages: image }));
    expect(res.status).toBe(200);
    expect(((await res.json()) as { usage: { prompt_tokens: number } }).usage.prompt_tokens).toBeGreaterThan(
      256,
    );
  });

  it("enforces tool message pairing", async () => {
    const call = { id: "call_1", type: "function", function: { name: "f", arguments: "{}" } };
    await expectError(
      post(
        fastSim(),
        "/chat/completions",
        chatBody({
          messages: [
            { role: "user", content: "x" },
            { role: "tool", tool_call_id: "call_1", content: "r" },
          ],
        }),
      ),
      400,
      "Messages with role 'tool' must be a response to a preceding message with 'tool_calls'",
    );
    await expectError(
      post(
        fastSim(),
        "/chat/completions",
        chatBody({
          thinking: { type: "disabled" },
          messages: [
            { role: "user", content: "x" },
            { role: "assistant", content: "", tool_calls: [call] },
            { role: "user", content: "y" },
          ],
        }),
      ),
      400,
      "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. (insufficient tool messages following tool_calls message)",
    );
  });

  it("requires reasoning_content back on tool turns in thinking mode", async () => {
    const messages = [
      { role: "user", content: "x" },
      {
        role: "assistant",
        content: "",
        tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "{}" } }],
      },
      { role: "tool", tool_call_id: "c", content: "r" },
    ];
    await expectError(
      post(fastSim(), "/chat/completions", chatBody({ messages })),
      400,
      "The `reasoning_content` in the thinking mode must be passed back to the API.",
    );
    expect(
      (await post(fastSim(), "/chat/completions", chatBody({ messages, thinking: { type: "disabled" } })))
        .status,
    ).toBe(200);
  });

  it("applies the R1 restrictions in the legacy era", async () => {
    const legacy = fastSim({ era: "legacy" });
    const r1 = (messages: unknown[], extra: Record<string, unknown> = {}) =>
      post(legacy, "/chat/completions", { model: "deepseek-reasoner", messages, ...extra });
    await expectError(
      r1([
        { role: "user", content: "a" },
        { role: "user", content: "b" },
      ]),
      400,
      "deepseek-reasoner does not support successive user or assistant messages (messages[0] and messages[1] in your input). You should interleave the user/assistant messages in the message sequence.",
    );
    await expectError(
      r1([
        { role: "system", content: "s" },
        { role: "assistant", content: "a" },
        { role: "user", content: "b" },
      ]),
      400,
      "The first message (except the system message) of deepseek-reasoner must be a user message, but an assistant message detected.",
    );
    await expectError(r1([{ role: "user", content: "a" }], { logprobs: true }), 400, /logprobs/);
  });

  it("reports context overflow with DeepSeek's arithmetic", async () => {
    const long = "token ".repeat(70_000);
    const e = await expectError(
      post(fastSim({ era: "legacy" }), "/chat/completions", {
        model: "deepseek-chat",
        messages: [{ role: "user", content: long }],
      }),
      400,
      /^This model's maximum context length is 65536 tokens\. However, you requested \d+ tokens \(\d+ in the messages, 4096 in the completion\)\. Please reduce the length of the messages or completion\.$/,
    );
    const [, total, prompt] = /requested (\d+) tokens \((\d+) in/.exec(e.message) ?? [];
    expect(Number(total)).toBe(Number(prompt) + 4096);
  });

  it("returns an empty 404 for unknown paths, and counts it", async () => {
    const sim = fastSim();
    const res = await sim.app.request("/v1/embeddings", { method: "POST", headers: AUTH });
    expect(res.status).toBe(404);
    expect(await res.text()).toBe("");
    expect(res.headers.get("x-ds-trace-id")).toMatch(/^[0-9a-f]{32}$/);
    expect(sim.stats()).toMatchObject({
      requests: 1,
      byPath: { "/v1/embeddings": 1 },
      byStatus: { "404": 1 },
    });
    // The Anthropic base and the Responses surface came later than the legacy (2025H1) era.
    const legacy = fastSim({ era: "legacy" });
    for (const path of ["/responses", "/anthropic/v1/messages"])
      expect((await legacy.app.request(path, { method: "POST", headers: AUTH })).status).toBe(404);
  });
});
