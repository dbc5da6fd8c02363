import type { Api } from "./api";
import { message } from "./api";
import type { FactView, ProposalView, ReleaseChoice, ReleaseKind } from "./bindings";
import { button, el } from "./dom";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(value: Json): value is { [key: string]: Json } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function scalar(value: Json): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** A JSON value as a tree of labelled checkboxes: each node can be chosen by its path. */
function tree(value: Json, path: string, choose: (path: string, on: boolean) => void): HTMLElement {
  const entries: [string, Json][] = Array.isArray(value)
    ? value.map((v, i) => [String(i), v])
    : isObject(value)
      ? Object.entries(value)
      : [];
  return el(
    "ul",
    { class: "tree" },
    ...entries.map(([key, inner]) => {
      const here = path === "" ? key : `${path}.${key}`;
      const id = `pick-${here.replace(/[^A-Za-z0-9_-]/g, "_")}`;
      const box = el("input", { type: "checkbox", id, "data-path": here });
      box.addEventListener("change", () => choose(here, box.checked));
      const leaf = !(Array.isArray(inner) || isObject(inner));
      return el(
        "li",
        {},
        box,
        el("label", { for: id }, leaf ? `${key}: ${scalar(inner)}` : key),
        leaf ? null : tree(inner, here, choose),
      );
    }),
  );
}

/**
 * The result's named facts, each with a checkbox that releases exactly its paths. None starts
 * ticked; personal and health facts say so beside them.
 */
function facts(list: FactView[], choose: (paths: string[], on: boolean) => void): HTMLElement {
  return el(
    "fieldset",
    { class: "facts", id: "result-facts" },
    el("legend", {}, "What the result says"),
    el(
      "ul",
      {},
      ...list.map((fact, i) => {
        const id = `fact-${i}`;
        const box = el("input", { type: "checkbox", id, "data-fact": fact.paths.join(" ") });
        box.addEventListener("change", () => choose(fact.paths, box.checked));
        return el(
          "li",
          { class: fact.sensitive === null ? "" : "sensitive" },
          box,
          el("label", { for: id }, `${fact.label}: ${fact.value}`),
          fact.sensitive === null ? null : el("span", { class: "tag" }, ` Sensitive: ${fact.sensitive}`),
        );
      }),
    ),
  );
}

/** Rows and columns as a table, each column and row selectable; personal columns are marked. */
function table(
  columns: string[],
  rows: Json[][],
  choose: (path: string, on: boolean) => void,
  sensitive: Set<string> = new Set(),
): HTMLElement {
  const pick = (path: string, label: string): HTMLElement => {
    const id = `pick-${path.replace(/[^A-Za-z0-9_-]/g, "_")}`;
    const box = el("input", { type: "checkbox", id, "data-path": path });
    box.addEventListener("change", () => choose(path, box.checked));
    const mark = sensitive.has(path) ? el("span", { class: "tag" }, " (sensitive)") : null;
    return el("span", { class: "pick" }, box, el("label", { for: id }, label), mark);
  };
  return el(
    "table",
    { class: "rows" },
    el("caption", {}, `${rows.length} row${rows.length === 1 ? "" : "s"}`),
    el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Row"), ...columns.map((c) => el("th", { scope: "col" }, pick(c, c))))),
    el(
      "tbody",
      {},
      ...rows.map((row, i) =>
        el("tr", {}, el("th", { scope: "row" }, pick(`row:${i + 1}`, String(i + 1))), ...row.map((cell) => el("td", {}, scalar(cell)))),
      ),
    ),
  );
}

function receipt(view: ProposalView): HTMLElement {
  let email: { [key: string]: Json } = {};
  try {
    const parsed = JSON.parse(view.artifact_text) as Json;
    if (isObject(parsed)) email = parsed;
  } catch {
    // The artifact text is always JSON; a receipt without it still shows the server's answer.
  }
  const list = (key: string): string => (Array.isArray(email[key]) ? (email[key] as Json[]).map(scalar).join(", ") : "");
  const attachments = Array.isArray(email["attachments"])
    ? (email["attachments"] as Json[]).map((a) => (isObject(a) ? scalar(a["filename"] ?? "") : "")).join(", ")
    : "";
  const result = (view.result ?? {}) as { [key: string]: Json };
  return el(
    "dl",
    { class: "receipt details", id: "receipt" },
    el("dt", {}, "Sent to"),
    el("dd", {}, list("to")),
    list("cc") === "" ? null : el("dt", {}, "Copy to"),
    list("cc") === "" ? null : el("dd", {}, list("cc")),
    list("bcc") === "" ? null : el("dt", {}, "Hidden copy to"),
    list("bcc") === "" ? null : el("dd", {}, list("bcc")),
    el("dt", {}, "Subject"),
    el("dd", {}, scalar(email["subject"] ?? "")),
    attachments === "" ? null : el("dt", {}, "Attachments"),
    attachments === "" ? null : el("dd", {}, attachments),
    el("dt", {}, "Mail server's answer"),
    el("dd", {}, scalar(result["reply"] ?? "")),
  );
}

/** The result of an execution, and the choice of what the agent receives. */
export function resultSection(view: ProposalView, api: Api, done: (updated: ProposalView) => void): HTMLElement {
  const result = view.result as Json;
  const section = el("section", { class: "result", "aria-labelledby": "result-title" });
  const failed = view.line.status === "failed";
  section.append(
    el("h2", { id: "result-title" }, failed ? "It did not work" : "Result"),
    el(
      "p",
      { id: "result-status" },
      failed
        ? `It ran once and failed: ${isObject(result) ? scalar(result["error"] ?? "") : ""}`
        : view.line.status === "outcome_unknown"
          ? "Countersign stopped while it was running. Check it yourself; it was not retried."
          : "Done. It ran once, exactly as approved.",
    ),
  );
  const chosen = new Set<string>();
  const preview = el("pre", { id: "release-preview", class: "artifact", "aria-live": "polite" });
  const choose = (path: string, on: boolean): void => {
    if (on) chosen.add(path);
    else chosen.delete(path);
    const fields = section.querySelector<HTMLInputElement>("#release-fields");
    if (fields !== null) fields.checked = true;
    refresh();
  };
  const words = view.result_words;
  if (words !== null) section.append(el("p", { id: "result-summary", class: "summary" }, words.summary));
  if (view.kind === "email") section.append(receipt(view));
  if (isObject(result) && Array.isArray(result["columns"]) && Array.isArray(result["rows"])) {
    const marked = new Set((words?.facts ?? []).filter((f) => f.sensitive !== null).flatMap((f) => f.paths));
    section.append(table(result["columns"].map(scalar), result["rows"] as Json[][], choose, marked));
  } else if (isObject(result) && "rows_affected" in result) {
    section.append(el("p", { id: "rows-affected" }, `Rows changed: ${scalar(result["rows_affected"] ?? 0)}`));
  } else if (view.kind !== "email") {
    if (words !== null && words.facts.length > 0 && view.released === null) {
      section.append(facts(words.facts, (paths, on) => paths.forEach((p) => choose(p, on))));
    }
    // The whole answer, as the server sent it, one click away.
    section.append(
      el(
        "details",
        { class: "raw", id: "raw-result" },
        el("summary", {}, "The whole result, as the server sent it"),
        el("div", { class: "json", id: "result-tree" }, tree(result, "", choose)),
      ),
    );
  }

  if (view.released !== null) {
    section.append(
      el("h3", {}, "The agent received"),
      el("pre", { id: "released", class: "artifact" }, JSON.stringify(view.released, null, 2)),
    );
    return section;
  }

  const choice = (): ReleaseChoice => {
    const picked = section.querySelector<HTMLInputElement>("input[name=release]:checked");
    const kind = (picked?.value ?? "nothing") as ReleaseKind;
    return { kind, fields: kind === "fields" ? [...chosen] : [] };
  };
  function refresh(): void {
    api
      .releasePreview(view.line.id, choice())
      .then((data) => {
        preview.textContent = JSON.stringify(data, null, 2);
      })
      .catch((e: unknown) => {
        preview.textContent = message(e);
      });
  }
  const radio = (value: ReleaseKind, label: string, checked: boolean): HTMLElement => {
    const input = el("input", { type: "radio", name: "release", value, id: `release-${value}`, checked });
    input.addEventListener("change", refresh);
    return el("div", { class: "choice" }, input, el("label", { for: `release-${value}` }, label));
  };
  const error = el("p", { class: "error", role: "alert" });
  const send = button("Send to the agent", { id: "release", class: "primary" }, () => {
    send.disabled = true;
    api
      .release(view.line.id, choice())
      .then(done)
      .catch((e: unknown) => {
        error.textContent = message(e);
        send.disabled = false;
      });
  });
  section.append(
    el(
      "fieldset",
      { class: "release" },
      el("legend", {}, "What should the agent receive?"),
      radio("all", "Everything shown above", false),
      radio("fields", "Only what I tick above", false),
      radio("nothing", "Nothing", true),
    ),
    el("h3", {}, "The agent will receive exactly this"),
    preview,
    el("div", { class: "actions" }, send),
    error,
  );
  refresh();
  return section;
}
