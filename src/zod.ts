import { en } from "zod/locales";
import { config } from "zod/mini";

/**
 * The one zod the Worker imports (`import * as z from "../zod"`): `zod/mini`, whose functions
 * tree-shake, so the bundle carries only the validators the schemas use (full zod drags in every
 * locale, a code generator and JSON Schema converters). mini ships without messages ("Invalid input"
 * for everything), and callers read these messages in 400s and /healthz, so English is loaded once,
 * here, before any schema runs.
 */
config(en());

export * from "zod/mini";
