import { Hono } from "hono";
import type { AppEnv } from "../env";
import { limitsReport, scopesOf } from "../tenancy/enforce";

/**
 * `GET /user/balance` in DeepSeek's shape, so tools that check a balance work against the router: the
 * caller's tightest dollar budget (day or month, tenant or key) left, in USD. A tenant without a dollar
 * budget has no balance to show: `balance_infos` is empty and `is_available` true.
 */
export const balance = new Hono<AppEnv>();

export const BALANCE_PATHS = ["/user/balance"] as const;

balance.get("/user/balance", async (c) => {
  const report = await limitsReport(
    c.env.SPEND_AUTHORITY,
    scopesOf(c.get("tenant"), c.get("routerKey")),
    Date.now(),
  );
  const budgets = report.filter((counter) => counter.kind === "usd-day" || counter.kind === "usd-month");
  if (budgets.length === 0) return c.json({ is_available: true, balance_infos: [] });
  const left = Math.min(...budgets.map((budget) => budget.remaining));
  const amount = (Math.floor(left * 100) / 100).toFixed(2);
  return c.json({
    is_available: left > 0,
    balance_infos: [
      { currency: "USD", total_balance: amount, granted_balance: amount, topped_up_balance: "0.00" },
    ],
  });
});
