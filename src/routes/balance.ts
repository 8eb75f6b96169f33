import { Hono } from "hono";
import type { AppEnv } from "../env";
import { dollarsLeftNow } from "../tenancy/balance";
import { scopesOf } from "../tenancy/enforce";

/**
 * `GET /user/balance` in DeepSeek's shape, so tools that check a balance work against the router: the
 * caller's tightest dollar budget (day or month, tenant or key) left, in USD with two decimals as
 * DeepSeek writes it. `is_available` is false once that budget cannot cover the smallest request
 * (tenancy/balance.ts), which is when every inference call would get 402. A tenant without a dollar
 * budget has no balance to show: `balance_infos` is empty and `is_available` true.
 */
export const balance = new Hono<AppEnv>();

// DeepSeek serves both; an OpenAI SDK pointed at `…/v1` asks for the second.
export const BALANCE_PATHS = ["/user/balance", "/v1/user/balance"] as const;

balance.on("GET", [...BALANCE_PATHS], async (c) => {
  const dollars = await dollarsLeftNow({
    authorities: c.env.SPEND_AUTHORITY,
    scopes: scopesOf(c.get("tenant"), c.get("routerKey")),
    policy: c.get("policy"),
    now: Date.now(),
  });
  if (!dollars) return c.json({ is_available: true, balance_infos: [] });
  const amount = (Math.floor(dollars.left * 100) / 100).toFixed(2);
  return c.json({
    is_available: dollars.available,
    balance_infos: [
      { currency: "USD", total_balance: amount, granted_balance: amount, topped_up_balance: "0.00" },
    ],
  });
});
