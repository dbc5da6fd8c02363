import type { Api } from "./api";
import { message } from "./api";
import type { CredentialForm, CredentialKindName, CredentialTemplate, CredentialView, ReleaseRule } from "./bindings";
import { button, el, field } from "./dom";

/** Every release rule in words: a rule added in Rust fails to compile here until it is named. */
const RELEASE_RULE_WORDS: Record<ReleaseRule, string> = {
  ask: "Ask me each time",
  always: "Always send everything",
  never: "Never send anything",
};
const RELEASE_WORDS = Object.entries(RELEASE_RULE_WORDS) as [ReleaseRule, string][];

/** Every credential kind in words. */
export const CREDENTIAL_KIND_WORDS: Record<CredentialKindName, string> = {
  http: "web service",
  sql: "database",
  smtp: "mail server",
};

function releaseRule(value: string): ReleaseRule {
  return RELEASE_WORDS.find(([rule]) => rule === value)?.[0] ?? "ask";
}

/** A select of release defaults for one credential. */
export function releaseSelect(api: Api, credential: CredentialView, status: HTMLElement): HTMLElement {
  const id = `release-default-${credential.name.replace(/[^A-Za-z0-9_-]/g, "_")}`;
  const select = el(
    "select",
    { id },
    ...RELEASE_WORDS.map(([value, words]) => el("option", { value, selected: value === credential.release_default }, words)),
  );
  select.addEventListener("change", () => {
    api
      .setReleaseDefault(credential.name, releaseRule(select.value))
      .then(() => {
        status.textContent = `Results of “${credential.name}”: ${select.selectedOptions[0]?.textContent ?? select.value}.`;
      })
      .catch((e: unknown) => {
        status.textContent = message(e);
      });
  });
  return field(`What agents receive from “${credential.name}” results`, select);
}

function lines(text: string): string[] {
  return text
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

/** The scope in plain words, as the person builds it. */
export function scopeSentence(form: CredentialForm): string {
  if (form.kind === "http") {
    const where = form.origins.length === 0 ? "no address yet" : form.origins.join(", ");
    const how = form.methods.length === 0 ? "any kind of request" : `only ${form.methods.join(", ")} requests`;
    const paths = form.path_prefixes.length === 0 ? "any path" : `paths starting ${form.path_prefixes.join(" or ")}`;
    return `Countersign will send this secret only to ${where}, for ${how}, on ${paths}.`;
  }
  if (form.kind === "sql") {
    return `Agents may propose statements for ${form.url || "this database"}; ${form.read_write ? "they may change data once you approve" : "anything that changes data is refused"}; at most ${form.max_rows || 500} rows per read.`;
  }
  return `Emails go out through ${form.host || "the server"} as ${form.from || "your address"}${form.allowed_domains.length === 0 ? " to anyone you approve" : `, only to addresses at ${form.allowed_domains.join(", ")}`}.`;
}

/**
 * The scope builder: a form for one credential, optionally started from a template (its scope
 * filled in, and what is left to type said beside it). `added` gets the notice to show.
 */
export function credentialBuilder(
  api: Api,
  added: (notice: string) => void,
  templates: CredentialTemplate[] = [],
  chosen: string | null = null,
): HTMLElement {
  const input = (id: string, type = "text", attributes: Record<string, string> = {}): HTMLInputElement =>
    el("input", { id, type, autocomplete: "off", ...attributes });
  const kind = el(
    "select",
    { id: "cred-kind" },
    el("option", { value: "http" }, "A web service (API key or token)"),
    el("option", { value: "sql" }, "A database"),
    el("option", { value: "smtp" }, "An email account"),
  );
  const name = input("cred-name");
  const description = input("cred-description");
  const auth = el(
    "select",
    { id: "cred-auth" },
    el("option", { value: "bearer" }, "As a bearer token (most APIs)"),
    el("option", { value: "basic" }, "As a user name and password"),
    el("option", { value: "header" }, "In a header I name"),
    el("option", { value: "query" }, "In a query parameter I name"),
  );
  const authName = input("cred-auth-name");
  const origins = el("textarea", { id: "cred-origins", rows: "2" });
  const methods = ["GET", "POST", "PUT", "PATCH", "DELETE"].map((m) => el("input", { type: "checkbox", id: `cred-method-${m}`, value: m }));
  const prefixes = input("cred-prefixes");
  const dialect = el("select", { id: "cred-dialect" }, el("option", { value: "postgres" }, "PostgreSQL"), el("option", { value: "sqlite" }, "SQLite"), el("option", { value: "mysql" }, "MySQL / MariaDB"));
  const url = input("cred-url");
  const readWrite = el("input", { type: "checkbox", id: "cred-read-write" });
  const maxRows = input("cred-max-rows", "number", { min: "1", value: "500" });
  const host = input("cred-host");
  const port = input("cred-port", "number", { value: "587" });
  const tls = el("select", { id: "cred-tls" }, el("option", { value: "starttls" }, "STARTTLS (port 587)"), el("option", { value: "tls" }, "TLS (port 465)"), el("option", { value: "plain-loopback" }, "None — only for a server on this computer"));
  const username = input("cred-username");
  const from = input("cred-from", "email");
  const domains = input("cred-domains");
  const secondFactor = el("input", { type: "checkbox", id: "cred-second-factor" });
  const templateSelect = el(
    "select",
    { id: "cred-template" },
    el("option", { value: "" }, "Nothing: I fill in every field"),
    ...templates.map((t) => el("option", { value: t.key, selected: t.key === chosen }, t.title)),
  );
  const templateHint = el("div", { id: "cred-template-hint", class: "template-hint" });
  const sentence = el("p", { id: "scope-sentence", class: "scope-sentence", "aria-live": "polite" });
  const status = el("p", { role: "status", id: "cred-status" });

  const form = (): CredentialForm => ({
    name: name.value.trim(),
    kind: kind.value,
    description: description.value.trim(),
    auth: auth.value,
    auth_name: authName.value.trim(),
    origins: lines(origins.value),
    methods: methods.filter((m) => m.checked).map((m) => m.value),
    path_prefixes: lines(prefixes.value),
    dialect: dialect.value,
    url: url.value.trim(),
    read_write: readWrite.checked,
    max_rows: Number(maxRows.value) || 500,
    host: host.value.trim(),
    port: Number(port.value) || 0,
    tls: tls.value,
    username: username.value.trim(),
    from: from.value.trim(),
    allowed_domains: lines(domains.value),
    second_factor: secondFactor.checked,
    release_default: "ask",
  });
  const http = el(
    "div",
    { class: "kind-http" },
    field("Where the secret goes in a request", auth),
    field("Header or parameter name (if you chose one)", authName),
    field("Web addresses it may be sent to, one per line", origins, "For example https://api.stripe.com"),
    el("fieldset", {}, el("legend", {}, "Kinds of request allowed (none ticked: any)"), ...methods.map((m) => el("span", { class: "pick" }, m, el("label", { for: m.id }, m.value)))),
    field("Paths allowed, comma-separated (empty: any)", prefixes, "For example /v1"),
  );
  const sql = el(
    "div",
    { class: "kind-sql", hidden: true },
    field("Database", dialect),
    field("Connection address without the password", url, "For example postgres://reader@db.clinic.example/clinic"),
    el("div", { class: "field" }, readWrite, el("label", { for: readWrite.id }, "Allow statements that change data")),
    field("Most rows a read may return", maxRows),
  );
  const smtp = el(
    "div",
    { class: "kind-smtp", hidden: true },
    field("Mail server", host),
    field("Port", port),
    field("Security", tls),
    field("Login name", username),
    field("Send as (From address)", from),
    field("Only to these domains, comma-separated (empty: anyone)", domains),
  );
  /** Sets every control from `start`, as a template fills the form. */
  const fill = (start: CredentialForm): void => {
    kind.value = start.kind;
    name.value = start.name;
    description.value = start.description;
    auth.value = start.auth || "bearer";
    authName.value = start.auth_name;
    origins.value = start.origins.join("\n");
    for (const m of methods) m.checked = start.methods.includes(m.value);
    prefixes.value = start.path_prefixes.join(", ");
    dialect.value = start.dialect || "postgres";
    url.value = start.url;
    readWrite.checked = start.read_write;
    maxRows.value = String(start.max_rows || 500);
    host.value = start.host;
    port.value = String(start.port || 587);
    tls.value = start.tls || "starttls";
    username.value = start.username;
    from.value = start.from;
    domains.value = start.allowed_domains.join(", ");
    secondFactor.checked = start.second_factor;
  };
  const applyTemplate = (): void => {
    const template = templates.find((t) => t.key === templateSelect.value);
    templateHint.replaceChildren();
    if (template === undefined) return;
    fill(template.form);
    templateHint.append(el("p", {}, template.words));
    if (template.to_fill !== null) templateHint.append(el("p", { id: "cred-to-fill" }, `Still to type: ${template.to_fill}.`));
    templateHint.append(
      el("p", { id: "cred-secret-words" }, template.secret_words === null ? "No secret is needed." : `The secret to paste in the window that opens: ${template.secret_words}.`),
    );
  };
  templateSelect.addEventListener("change", () => {
    applyTemplate();
    update();
  });
  const update = (): void => {
    http.hidden = kind.value !== "http";
    sql.hidden = kind.value !== "sql";
    smtp.hidden = kind.value !== "smtp";
    sentence.textContent = scopeSentence(form());
  };
  const container = el(
    "section",
    { class: "builder", "aria-labelledby": "add-credential-title" },
    el("h2", { id: "add-credential-title" }, "Add a credential"),
    templates.length === 0 ? null : field("Start from", templateSelect),
    templateHint,
    field("What is it?", kind),
    field("Name agents will use", name, "Short, like stripe or clinic-db"),
    field("What it is for, in your words", description),
    http,
    sql,
    smtp,
    el("div", { class: "field" }, secondFactor, el("label", { for: secondFactor.id }, "Ask for my second factor every time it is used")),
    sentence,
    button("Add — then type the secret in the window that opens", { id: "cred-add", class: "primary" }, () => {
      status.textContent = "";
      api
        .addCredential(form())
        .then((ok) => {
          if (ok) added(form().kind === "sql" && form().dialect === "sqlite" ? `Added “${form().name}”. A file needs no secret.` : `Added “${form().name}”. Its secret is in the system keychain.`);
          else status.textContent = "Cancelled; nothing was added.";
        })
        .catch((e: unknown) => {
          status.textContent = message(e);
        });
    }),
    status,
  );
  container.addEventListener("input", update);
  container.addEventListener("change", update);
  applyTemplate();
  update();
  return container;
}

/** The credentials screen. */
export function credentialsPage(
  api: Api,
  credentials: CredentialView[],
  reload: (notice: string) => void,
  notice = "",
  templates: CredentialTemplate[] = [],
): HTMLElement {
  const status = el("p", { role: "status", id: "credentials-status" }, notice);
  const list = el(
    "ul",
    { class: "cards", id: "credentials" },
    ...credentials.map((c) => {
      const confirm = el("span", { class: "confirm", hidden: true });
      return el(
        "li",
        { class: "card", "data-name": c.name },
        el("h2", {}, `${c.name} `, el("span", { class: "meta" }, CREDENTIAL_KIND_WORDS[c.kind])),
        c.description === "" ? null : el("p", {}, c.description),
        el("ul", { class: "scope" }, ...c.scope.map((s) => el("li", {}, s))),
        releaseSelect(api, c, status),
        el(
          "div",
          { class: "actions" },
          button("Test the connection", { class: "secondary" }, () => {
            status.textContent = `Testing “${c.name}”…`;
            api
              .testCredential(c.name)
              .then((answer) => {
                status.textContent = answer;
              })
              .catch((e: unknown) => {
                status.textContent = `“${c.name}”: ${message(e)}`;
              });
          }),
          button("Remove", { class: "secondary" }, () => {
            confirm.hidden = false;
          }),
          confirm,
        ),
        (() => {
          confirm.append(
            `Remove “${c.name}” and its secret? `,
            button("Yes, remove", { class: "danger" }, () => {
              api.removeCredential(c.name).then(() => reload(`Removed “${c.name}” and its secret.`)).catch((e: unknown) => {
                status.textContent = message(e);
              });
            }),
            button("Keep it", {}, () => {
              confirm.hidden = true;
            }),
          );
          return null;
        })(),
      );
    }),
  );
  return el(
    "section",
    { class: "page", "aria-labelledby": "credentials-title" },
    el("h1", { id: "credentials-title" }, "Credentials"),
    el("p", { class: "hint" }, "Secrets stay in the system keychain. Agents see only these names and what each may be used for."),
    status,
    credentials.length === 0 ? el("p", {}, "No credentials yet.") : list,
    credentialBuilder(api, reload, templates),
  );
}
