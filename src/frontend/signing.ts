import { type CryptoKey, importJWK, type JWK } from "jose";
import { RouterError } from "../errors";

/** The algorithms a router signing key may use: asymmetric, so a verifier never holds a signing secret. */
const SIGNING_ALGORITHMS = ["EdDSA", "ES256"] as const;
type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

/** One key of `FRONTEND_SIGNING_KEY`, imported once per isolate. */
export interface SigningKey {
  kid: string;
  /** The one algorithm tokens under this `kid` may name: anything else is refused (no algorithm confusion). */
  alg: SigningAlgorithm;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK;
}

export interface SigningKeys {
  /** The key new tokens are signed with: the first listed. */
  current: SigningKey;
  byKid: ReadonlyMap<string, SigningKey>;
}

let memo: { raw: string; keys: Promise<SigningKeys> } | undefined;

/**
 * The router's frontend signing keys from the `FRONTEND_SIGNING_KEY` secret: one private JWK (with
 * `kid` and `alg`), or `{"keys": [...]}` where the first signs and every one verifies. Rotation: put
 * the new key first and keep the old one listed until the longest token it signed has expired (3600 s),
 * then drop it. Imported once per isolate, so verifying never leaves the isolate.
 */
export function signingKeys(env: object): Promise<SigningKeys> {
  const raw = Reflect.get(env, "FRONTEND_SIGNING_KEY");
  if (typeof raw !== "string" || raw === "") {
    return Promise.reject(
      new RouterError("configuration_error", "Frontend tokens are not configured (FRONTEND_SIGNING_KEY)."),
    );
  }
  if (memo?.raw !== raw) {
    const keys = importKeys(raw);
    memo = { raw, keys };
    keys.catch(() => {
      if (memo?.raw === raw) memo = undefined;
    });
  }
  return memo.keys;
}

async function importKeys(raw: string): Promise<SigningKeys> {
  const invalid = (why: string) => {
    console.error(JSON.stringify({ event: "config_invalid", errors: [`FRONTEND_SIGNING_KEY: ${why}`] }));
    return new RouterError(
      "configuration_error",
      "Frontend tokens are misconfigured (FRONTEND_SIGNING_KEY).",
    );
  };
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw invalid("not valid JSON");
  }
  const list: unknown[] =
    typeof json === "object" && json !== null && Array.isArray(Reflect.get(json, "keys"))
      ? Reflect.get(json, "keys")
      : [json];
  const keys: SigningKey[] = [];
  for (const entry of list) {
    const jwk = entry as JWK;
    const alg = jwk.alg as SigningAlgorithm;
    if (typeof jwk.kid !== "string" || jwk.kid === "") throw invalid("every key needs a kid");
    if (!SIGNING_ALGORITHMS.includes(alg)) throw invalid(`key ${jwk.kid}: alg must be EdDSA or ES256`);
    if (typeof jwk.d !== "string") throw invalid(`key ${jwk.kid}: a private JWK is expected`);
    const { d: _private, key_ops: _ops, ...publicJwk } = jwk;
    try {
      keys.push({
        kid: jwk.kid,
        alg,
        privateKey: (await importJWK(jwk, alg)) as CryptoKey,
        publicKey: (await importJWK(publicJwk, alg)) as CryptoKey,
        publicJwk: { ...publicJwk, use: "sig" },
      });
    } catch (error) {
      throw invalid(`key ${jwk.kid}: ${String(error)}`);
    }
  }
  const [current] = keys;
  if (!current) throw invalid("no key");
  return { current, byKid: new Map(keys.map((key) => [key.kid, key])) };
}
