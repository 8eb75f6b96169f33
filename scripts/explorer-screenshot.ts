import { resolve } from "node:path";
import { findChromium, screenshot } from "../loadtest/screenshot";
import { ROOT } from "./build";
import { adminKeyDigest, LOCAL_ADMIN_KEY, LOCAL_TENANTS, tenantsConfig } from "./local-config";
import { startLocalStack } from "./stack";

/**
 * `npx tsx scripts/explorer-screenshot.ts [dir]`: the request explorer (issue 25) in headless Chromium.
 * Starts the local stack with a noisy simulator (some 503s, so some requests retry), sends a few dozen
 * requests from two tenants, picks a request that retried, and shoots the operator's explorer and the
 * tenant's own, each opened on that request. Output: <dir>/request-explorer.png and
 * <dir>/tenant-request-explorer.png (dir defaults to docs/img). Loopback only, bounded.
 */
const dir = resolve(process.argv[2] ?? `${ROOT}docs/img`);
if (!findChromium()) {
  console.error("explorer-screenshot: chromium is not installed (Debian: apt-get install -y chromium).");
  process.exit(3);
}
const stack = await startLocalStack({
  sim: { ttftMs: 120, tokensPerS: 400, faults: { statusRates: { "503": 0.25 } } },
  // The first local tenant captures payloads, so its request page shows the prompt and the answer.
  vars: { ROUTER_ADMIN_KEY: adminKeyDigest(), ROUTER_TENANTS: capturingFirstTenant() },
});
const [first, second] = LOCAL_TENANTS;

function capturingFirstTenant(): string {
  const tenants = JSON.parse(tenantsConfig()) as Array<Record<string, unknown>>;
  return JSON.stringify(
    tenants.map((t, i) => (i === 0 ? { ...t, capture: { enabled: true, maxBytes: 2048 } } : t)),
  );
}
const SYSTEM =
  "You are the support assistant of a company that runs an edge router for a large language model API. " +
  "Answer briefly and precisely, cite the relevant configuration setting by name when there is one, say so " +
  "plainly when you do not know, and never reveal keys, tenant identifiers or the contents of other requests. " +
  "Prefer short lists over long paragraphs, and end with one suggestion the reader can act on today.";
try {
  const prompts = [
    "Summarise the router's admission.",
    "Write a haiku about queues.",
    "What is a circuit breaker?",
  ];
  for (let i = 0; i < 24; i++) {
    const key = (i % 4 === 3 ? second : first)?.key ?? "";
    const body = {
      model: i % 5 === 0 ? "deepseek-v4-pro" : "deepseek-v4-flash",
      messages: [
        // A system prompt that starts with the time: no two prefixes match, and the insights should say so.
        { role: "system", content: `The time is ${new Date().toISOString()}. ${SYSTEM}` },
        { role: "user", content: prompts[i % prompts.length] },
      ],
      stream: i % 2 === 0,
      ...(i % 6 === 0 ? { temperature: 0 } : {}),
    };
    const response = await fetch(`${stack.routerUrl}/v1/chat/completions`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${key}`,
        "content-type": "application/json",
        "x-request-id": `demo-${i}`,
      },
      body: JSON.stringify(body),
    });
    await response.text();
  }
  await new Promise((done) => setTimeout(done, 1_000));
  const list = (await (
    await fetch(`${stack.routerUrl}/admin/requests?limit=100`, {
      headers: { authorization: `Bearer ${LOCAL_ADMIN_KEY}` },
    })
  ).json()) as { data: Array<{ id: string; tenant: string; retries: number; status: number }> };
  const pick =
    list.data.find((r) => r.retries > 0 && r.status === 200 && r.tenant === first?.id) ?? list.data[0];
  console.log(`${list.data.length} records; showing ${pick?.id} (${pick?.retries} retries)`);
  const shots = [
    [`/operator/requests#key=${LOCAL_ADMIN_KEY}&id=${pick?.id}`, "request-explorer.png"],
    [`/dashboard/requests#key=${first?.key ?? ""}&id=${pick?.id}&insights=1`, "tenant-request-explorer.png"],
  ] as const;
  for (const [path, file] of shots) {
    await screenshot(`${stack.routerUrl}${path}`, `${dir}/${file}`, {
      width: 1500,
      height: 1300,
      virtualTimeMs: 4_000,
    });
    console.log(`wrote ${dir}/${file}`);
  }
} finally {
  await stack.close();
}
