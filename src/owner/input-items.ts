import { RouterError } from "../errors";
import { isObject, type Json } from "../surfaces/scan";

/** Id prefixes of the item types OpenAI mints ids for; any other type gets `item_`. */
const ID_PREFIXES: Record<string, string> = {
  message: "msg",
  function_call: "fc",
  function_call_output: "fco",
  reasoning: "rs",
};

/**
 * Ids for a Response's input items that came without one: the type's prefix, then the response id's
 * first 28 hex digits and the item's place among them in 4, so an item has the same id on every read
 * and nothing but the input itself needs keeping.
 */
export function itemIdsOf(responseId: string): (type: string) => string {
  const stem = responseId.slice(responseId.indexOf("_") + 1).slice(0, 28);
  let place = 0;
  return (type) => `${ID_PREFIXES[type] ?? "item"}_${stem}${(place++).toString(16).padStart(4, "0")}`;
}

/**
 * A request's `input` as OpenAI lists it back (`GET /v1/responses/{id}/input_items`): a string is one
 * user message; a message (`type: "message"`, or a bare `role`/`content`) has its text content as one
 * `input_text` part (`output_text` for the assistant's); every other item stays as it was given. An item
 * without an `id` gets one from `newId` ({@link itemIdsOf}). Pure.
 */
export function inputItemsOf(input: string | readonly unknown[], newId: (type: string) => string): Json[] {
  const items = typeof input === "string" ? [{ role: "user", content: input }] : input;
  return items.filter(isObject).map((item) => {
    const type = typeof item.type === "string" ? item.type : "message";
    const id = typeof item.id === "string" && item.id !== "" ? item.id : newId(type);
    if (type !== "message") return { ...item, id };
    return { ...item, id, type, content: contentOf(item) };
  });
}

function contentOf(message: Json): unknown {
  if (typeof message.content !== "string") return message.content;
  return message.role === "assistant"
    ? [{ type: "output_text", text: message.content, annotations: [] }]
    : [{ type: "input_text", text: message.content }];
}

export interface ItemQuery {
  /** 1 to 100. */
  limit: number;
  order: "asc" | "desc";
  /** The id of the item the page starts after, in `order`. */
  after?: string;
}

export interface ItemList {
  object: "list";
  data: Json[];
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
}

/** One page of a response's input items, OpenAI's cursor list. Pure. */
export function itemPage(items: readonly Json[], query: ItemQuery): ItemList {
  const ordered = query.order === "asc" ? items : [...items].reverse();
  let start = 0;
  if (query.after !== undefined) {
    const at = ordered.findIndex((item) => item.id === query.after);
    if (at === -1)
      throw new RouterError("invalid_request", `'after': this response has no input item '${query.after}'.`, {
        param: "after",
      });
    start = at + 1;
  }
  const data = ordered.slice(start, start + query.limit);
  return {
    object: "list",
    data,
    first_id: idOf(data[0]),
    last_id: idOf(data.at(-1)),
    has_more: start + query.limit < ordered.length,
  };
}

function idOf(item: Json | undefined): string | null {
  return typeof item?.id === "string" ? item.id : null;
}
