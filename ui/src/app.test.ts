import { beforeEach, describe, expect, it } from "vitest";
import { mountApp } from "./app";
import { el } from "./dom";

describe("the app shell", () => {
  beforeEach(() => {
    document.body.replaceChildren();
  });

  it("opens on the empty inbox, in plain words", () => {
    const root = document.createElement("div");
    mountApp(root);
    const heading = root.querySelector("#empty-inbox-heading");
    expect(heading?.textContent).toBe("No proposals waiting.");
    expect(root.textContent).toContain("Connect an agent to get started.");
  });

  it("has one main landmark, one h1 and a labelled navigation", () => {
    const root = document.createElement("div");
    mountApp(root);
    expect(root.querySelectorAll("main")).toHaveLength(1);
    expect(root.querySelectorAll("h1")).toHaveLength(1);
    expect(root.querySelector("nav")?.getAttribute("aria-label")).toBe("Sections");
    expect(root.querySelector("a.skip-link")?.getAttribute("href")).toBe("#main");
  });
});

describe("el", () => {
  it("inserts strings as text, never as markup", () => {
    const hostile = '<img src=x onerror="alert(1)"><b>bold</b>';
    const node = el("p", {}, hostile);
    expect(node.textContent).toBe(hostile);
    expect(node.querySelector("img")).toBeNull();
    expect(node.childNodes).toHaveLength(1);
    expect(node.firstChild?.nodeType).toBe(Node.TEXT_NODE);
  });

  it("refuses event-handler attributes", () => {
    expect(() => el("div", { onclick: "alert(1)" })).toThrow(/event attribute/);
  });
});
