import type { Api } from "./api";
import { message } from "./api";
import type { AgentView, ConnectedAgent } from "./bindings";
import { button, el, field } from "./dom";

/** A newly connected agent: its key, shown once, and where to paste its configuration. */
export function connected(agent: ConnectedAgent): HTMLElement {
  return el(
    "section",
    { class: "connected", id: "connected-agent", "aria-labelledby": "connected-title" },
    el("h2", { id: "connected-title" }, `“${agent.name}” can now propose`),
    el("p", {}, "This key is shown once. It lets the agent put proposals in front of you, nothing more."),
    el("pre", { class: "artifact", id: "agent-key", tabindex: "0" }, agent.key),
    ...agent.configs.flatMap((config) => [
      el("h3", {}, config.client),
      el("p", { class: "hint" }, config.place),
      el("pre", { class: "artifact config", tabindex: "0" }, config.text),
    ]),
  );
}

/** The agents screen: connect (a key and configuration to paste), revoke. */
export function agentsPage(api: Api, agents: AgentView[], reload: () => void): HTMLElement {
  const status = el("p", { role: "status", id: "agents-status" });
  const slot = el("div", {});
  const name = el("input", { id: "agent-name", type: "text", autocomplete: "off" });
  return el(
    "section",
    { class: "page", "aria-labelledby": "agents-title" },
    el("h1", { id: "agents-title" }, "Agents"),
    el("p", { class: "hint" }, "Agents connect over MCP or the local REST interface. They can only propose; you decide."),
    el(
      "ul",
      { class: "cards", id: "agents" },
      ...agents.map((a) =>
        el(
          "li",
          { class: "card", "data-name": a.name },
          el("h2", {}, a.name),
          el("p", { class: "meta" }, a.revoked_at === null ? `Connected ${a.added_at}` : `Revoked ${a.revoked_at}`),
          a.revoked_at === null
            ? button("Revoke", { class: "secondary" }, () => {
                api.revokeAgent(a.name).then(reload).catch((e: unknown) => {
                  status.textContent = message(e);
                });
              })
            : null,
        ),
      ),
    ),
    status,
    el(
      "section",
      { class: "builder", "aria-labelledby": "connect-title" },
      el("h2", { id: "connect-title" }, "Connect an agent"),
      field("A name for it", name, "For example claude-desktop"),
      button("Connect", { id: "agent-connect", class: "primary" }, () => {
        api
          .connectAgent(name.value)
          .then((agent) => {
            slot.replaceChildren(connected(agent));
            status.textContent = `Connected “${agent.name}”.`;
          })
          .catch((e: unknown) => {
            status.textContent = message(e);
          });
      }),
    ),
    slot,
  );
}
