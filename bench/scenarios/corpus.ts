/**
 * A varied, deterministic corpus for measuring the router's token estimator: prose, code, Chinese,
 * JSON, tables of numbers, chat-style markdown and mixed-language text, at lengths from a sentence to
 * tens of thousands of characters.
 */
const PROSE = [
  "The router sits between many callers and the DeepSeek API, deciding for every request what it is, where it goes and whether it may go now.",
  "When the upstream is overloaded it answers with 429 or 503, holds connections open with keep-alive comments, or stalls in the middle of a stream.",
  "Teams put AI features in front of real traffic and then break under it: too many concurrent calls, a spike, a slow reasoning model, a bill that runs away.",
  "A cache hit comes back in milliseconds and costs nothing upstream; identical prompts in flight at the same moment share one upstream call.",
];
const CODE = [
  "def fibonacci(n: int) -> int:\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n",
  "export async function retry<T>(fn: () => Promise<T>, attempts = 3): Promise<T> {\n  let last: unknown;\n  for (let i = 0; i < attempts; i++) {\n    try { return await fn(); } catch (e) { last = e; await sleep(2 ** i * 100); }\n  }\n  throw last;\n}\n",
  "SELECT tenant_id, count(*) AS requests, sum(cost_usd) FROM requests WHERE at >= ? GROUP BY tenant_id ORDER BY 3 DESC;\n",
  'func (s *Server) Handle(w http.ResponseWriter, r *http.Request) {\n\tif r.Method != http.MethodPost {\n\t\thttp.Error(w, "method not allowed", 405)\n\t\treturn\n\t}\n}\n',
];
const CHINESE = [
  "深度求索的接口在高峰时段可能返回四二九或五零三错误，路由器需要在排队、重试和降级之间做出选择。",
  "缓存命中的请求在几毫秒内返回，不占用并发名额，也不产生上游费用。",
  "请用简洁的语言解释什么是指数退避以及为什么要加入随机抖动。",
];

function repeatTo(parts: readonly string[], chars: number, separator: string): string {
  let text = "";
  for (let i = 0; text.length < chars; i++) text += (i > 0 ? separator : "") + parts[i % parts.length];
  return text.slice(0, chars);
}

function json(entries: number): string {
  const rows = Array.from({ length: entries }, (_, i) => ({
    id: `req_${(i * 7919).toString(36)}`,
    tenant: ["acme", "globex", "initech"][i % 3],
    latencyMs: (i * 37) % 1000,
    ok: i % 5 !== 0,
    tags: ["chat", "stream"].slice(0, (i % 2) + 1),
  }));
  return JSON.stringify(rows, null, i2(entries));
}

function i2(n: number): number {
  return n % 2 === 0 ? 2 : 0;
}

function table(rows: number): string {
  const lines = ["| date | requests | p50 ms | p99 ms | cost $ |", "| --- | --- | --- | --- | --- |"];
  for (let i = 0; i < rows; i++) {
    lines.push(
      `| 2026-11-${String((i % 28) + 1).padStart(2, "0")} | ${1000 + i * 17} | ${12 + (i % 9)}.${i % 10} | ${80 + i} | ${(i * 0.137).toFixed(3)} |`,
    );
  }
  return lines.join("\n");
}

interface CorpusDoc {
  kind: string;
  text: string;
}

export function corpus(): CorpusDoc[] {
  const docs: CorpusDoc[] = [];
  for (const size of [80, 600, 4_000, 30_000]) {
    docs.push({ kind: "english prose", text: repeatTo(PROSE, size, " ") });
    docs.push({ kind: "source code", text: repeatTo(CODE, size, "\n") });
    docs.push({ kind: "chinese", text: repeatTo(CHINESE, Math.ceil(size / 3), "") });
    docs.push({ kind: "mixed en/zh", text: repeatTo([...PROSE.slice(0, 2), ...CHINESE], size, " ") });
  }
  for (const entries of [3, 40, 400]) docs.push({ kind: "json", text: json(entries) });
  for (const rows of [5, 60, 600]) docs.push({ kind: "markdown table", text: table(rows) });
  docs.push({
    kind: "chat markdown",
    text: `# Question\n\nWhy does my stream stop?\n\n\`\`\`\n${CODE[1]}\`\`\`\n\n- tried retries\n- tried https://api.deepseek.com/v1\n`,
  });
  return docs;
}
