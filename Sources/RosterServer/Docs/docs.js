// Roster's API reference: renders /api/v1/openapi.json, grouped by tag, with a "Try it" form per
// operation. Written for this project; no third-party code, nothing fetched from elsewhere.
"use strict";

(() => {
  const METHODS = ["get", "put", "post", "delete", "patch", "head", "options", "trace"];
  let spec = null;
  let credential = ""; // the pasted key or token: only in this variable, never stored

  const credentialInput = document.getElementById("credential");
  credentialInput.addEventListener("input", () => { credential = credentialInput.value.trim(); });
  document.getElementById("credentials").addEventListener("submit", (event) => event.preventDefault());

  fetch("/api/v1/openapi.json", { headers: { Accept: "application/json" } })
    .then((response) => {
      if (!response.ok) throw new Error(`GET /api/v1/openapi.json answered ${response.status}`);
      return response.json();
    })
    .then((loaded) => { spec = loaded; render(); })
    .catch((error) => {
      const loading = document.getElementById("loading");
      loading.className = "error";
      loading.textContent = `The API document could not be loaded: ${error.message}`;
    });

  // MARK: DOM helpers (no innerHTML: every text from the document is inserted as text)

  function el(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  /** The document's small Markdown: paragraphs, `*`/`-` lists, `code` and **bold**. */
  function markdown(text) {
    const fragment = document.createDocumentFragment();
    if (!text) return fragment;
    let list = null;
    let paragraph = [];
    const flush = () => {
      if (paragraph.length) fragment.append(el("p", {}, inline(paragraph.join(" "))));
      paragraph = [];
    };
    for (const raw of text.split("\n")) {
      const line = raw.trim();
      const item = line.match(/^[*-]\s+(.*)$/);
      if (item) {
        flush();
        if (!list) { list = el("ul"); fragment.append(list); }
        list.append(el("li", {}, inline(item[1])));
      } else if (line === "") {
        flush();
        list = null;
      } else if (list && raw.startsWith("  ")) {
        list.lastChild.append(" ", ...inline(line)); // a list item's continuation line
      } else {
        list = null;
        paragraph.push(line);
      }
    }
    flush();
    return fragment;
  }

  function inline(text) {
    const nodes = [];
    text.split(/(`[^`]*`|\*\*[^*]+\*\*)/).forEach((part) => {
      if (part.startsWith("`") && part.endsWith("`") && part.length > 1) nodes.push(el("code", { text: part.slice(1, -1) }));
      else if (part.startsWith("**") && part.endsWith("**") && part.length > 4) nodes.push(el("strong", { text: part.slice(2, -2) }));
      else if (part) nodes.push(document.createTextNode(part));
    });
    return nodes;
  }

  // MARK: the document

  function resolve(node, depth = 0) {
    let current = node;
    while (current && current.$ref && depth < 20) {
      current = current.$ref.slice(2).split("/")
        .map((segment) => segment.replace(/~1/g, "/").replace(/~0/g, "~"))
        .reduce((object, key) => (object ? object[key] : undefined), spec);
      depth += 1;
    }
    return current || {};
  }

  function operations() {
    const list = [];
    for (const [path, rawItem] of Object.entries(spec.paths || {})) {
      const item = resolve(rawItem);
      for (const method of METHODS) {
        if (!item[method]) continue;
        const operation = item[method];
        const parameters = [...(item.parameters || []), ...(operation.parameters || [])].map((p) => resolve(p));
        list.push({ path, method, operation, parameters, id: operation.operationId || `${method}-${path}` });
      }
    }
    return list;
  }

  function types(schema) {
    const type = schema.type;
    return Array.isArray(type) ? type : type ? [type] : [];
  }

  /** A compact, readable rendering of a schema. */
  function schemaText(rawSchema, indent = "", depth = 0) {
    const schema = resolve(rawSchema);
    const kinds = types(schema).filter((t) => t !== "null");
    const nullable = types(schema).includes("null") ? " | null" : "";
    if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(" | ") + nullable;
    if (schema.const !== undefined) return JSON.stringify(schema.const);
    if (kinds.includes("object") || schema.properties) {
      if (depth > 4 || !schema.properties) return "object" + (schema.additionalProperties ? " (any keys)" : "");
      const required = new Set(schema.required || []);
      const lines = Object.entries(schema.properties).map(([name, property]) => {
        const resolved = resolve(property);
        const flags = [required.has(name) ? "required" : "", resolved.readOnly ? "read-only" : ""].filter(Boolean).join(", ");
        return `${indent}  ${name}: ${schemaText(property, indent + "  ", depth + 1)}${flags ? `  (${flags})` : ""}`;
      });
      const more = schema.additionalProperties === true ? [`${indent}  …: any other attribute`] : [];
      return ["{", ...lines, ...more, `${indent}}`].join("\n");
    }
    if (kinds.includes("array")) return `[${schemaText(schema.items || {}, indent, depth + 1)}]`;
    const format = schema.format ? ` (${schema.format})` : "";
    return (kinds.join(" | ") || "any") + format + nullable;
  }

  /** An example value: the document's own, else one made from the schema. */
  function example(rawSchema, depth = 0) {
    const schema = resolve(rawSchema);
    if (schema.example !== undefined) return schema.example;
    if (Array.isArray(schema.examples) && schema.examples.length) return schema.examples[0];
    if (schema.const !== undefined) return schema.const;
    if (schema.enum) return schema.enum[0];
    if (schema.default !== undefined) return schema.default;
    const kinds = types(schema).filter((t) => t !== "null");
    if (kinds.includes("object") || schema.properties) {
      const value = {};
      if (depth < 5) {
        for (const [name, property] of Object.entries(schema.properties || {})) {
          if (!resolve(property).readOnly) value[name] = example(property, depth + 1);
        }
      }
      return value;
    }
    if (kinds.includes("array")) return depth < 5 ? [example(schema.items || {}, depth + 1)] : [];
    if (kinds.includes("integer") || kinds.includes("number")) return 0;
    if (kinds.includes("boolean")) return true;
    switch (schema.format) {
      case "date-time": return "2027-01-01T00:00:00Z";
      case "uuid": return "00000000-0000-4000-8000-000000000000";
      case "uri": return "https://example.com";
      default: return "string";
    }
  }

  function mediaExample(media) {
    if (media.example !== undefined) return media.example;
    const examples = Object.values(media.examples || {});
    if (examples.length && resolve(examples[0]).value !== undefined) return resolve(examples[0]).value;
    return example(media.schema || {});
  }

  function security(operation) {
    const requirements = operation.security || spec.security || [];
    const schemes = requirements.flatMap((requirement) => Object.keys(requirement));
    if (!schemes.length) return { kind: "none", label: "No credentials" };
    if (schemes.includes("scimBearer")) return { kind: "scim", label: "SCIM token (Authorization: Bearer scim_…)" };
    return { kind: "admin", label: "Admin key (X-Admin-API-Key or Authorization: Bearer)" };
  }

  // MARK: rendering

  function render() {
    document.getElementById("title").textContent = spec.info.title;
    document.getElementById("version").textContent = `v${spec.info.version} · OpenAPI ${spec.openapi}`;
    document.title = `${spec.info.title} API reference`;
    const main = document.getElementById("main");
    const nav = document.getElementById("nav");
    main.replaceChildren();
    nav.replaceChildren();

    main.append(el("section", { class: "intro" },
      el("h1", { text: `${spec.info.title} API reference` }),
      spec.info.summary ? el("p", { text: spec.info.summary }) : null,
      markdown(spec.info.description),
      el("p", { class: "note" }, "The document itself: ",
        el("a", { href: "/api/v1/openapi.json", text: "openapi.json" }), " · ",
        el("a", { href: "/api/v1/openapi.yaml", text: "openapi.yaml" }))));

    const all = operations();
    const tags = [...(spec.tags || []).map((t) => t.name)];
    for (const { operation } of all) for (const tag of operation.tags || ["other"]) if (!tags.includes(tag)) tags.push(tag);
    for (const tag of tags) {
      const members = all.filter(({ operation }) => (operation.tags || ["other"])[0] === tag);
      if (!members.length) continue;
      const info = (spec.tags || []).find((t) => t.name === tag) || {};
      nav.append(el("h3", { text: tag }));
      const section = el("section", { class: "tag", id: `tag-${tag}` }, el("h2", { text: tag }), info.description ? el("p", {}, inline(info.description)) : null);
      for (const entry of members) {
        const link = el("a", { href: `#op-${entry.id}` }, el("span", { class: `method ${entry.method}`, text: entry.method }), el("span", { class: "path", text: entry.path }));
        link.addEventListener("click", () => expand(entry.id));
        nav.append(link);
        section.append(renderOperation(entry));
      }
      main.append(section);
    }
    main.setAttribute("data-operations", String(all.length));
    if (location.hash.startsWith("#op-")) expand(location.hash.slice(4));
  }

  function expand(id) {
    const article = document.getElementById(`op-${id}`);
    if (article) article.classList.remove("collapsed");
  }

  function renderOperation({ path, method, operation, parameters, id }) {
    const auth = security(operation);
    const scope = operation["x-roster-scope"];
    const header = el("header", { tabindex: "0", role: "button", "aria-expanded": "false" },
      el("span", { class: `method ${method}`, text: method }),
      el("span", { class: "path", text: path }),
      el("span", { class: "summary", text: operation.summary || "" }),
      scope ? el("span", { class: "badge", text: `scope ${scope}` }) : null);
    const article = el("article", { class: "operation collapsed", id: `op-${id}`, "data-operation-id": id }, header);
    const toggle = () => {
      article.classList.toggle("collapsed");
      header.setAttribute("aria-expanded", String(!article.classList.contains("collapsed")));
    };
    header.addEventListener("click", toggle);
    header.addEventListener("keydown", (event) => { if (event.key === "Enter" || event.key === " ") { event.preventDefault(); toggle(); } });

    const body = el("div", { class: "body" });
    body.append(markdown(operation.description));
    body.append(el("p", { class: "note" }, `Authentication: ${auth.label}`, scope ? `, scope ${scope}.` : "."));
    if (parameters.length) {
      body.append(el("h4", { text: "Parameters" }), el("table", {},
        el("thead", {}, el("tr", {}, el("th", { text: "name" }), el("th", { text: "in" }), el("th", { text: "schema" }), el("th", { text: "description" }))),
        el("tbody", {}, parameters.map((p) => el("tr", {},
          el("td", {}, el("code", { text: p.name }), p.required ? " *" : ""),
          el("td", { text: p.in }),
          el("td", { class: "schema", text: schemaText(p.schema || {}) }),
          el("td", {}, inline(p.description || ""), p.example !== undefined ? [" e.g. ", el("code", { text: String(p.example) })] : null))))));
    }
    const requestBody = operation.requestBody ? resolve(operation.requestBody) : null;
    if (requestBody) {
      body.append(el("h4", { text: `Request body${requestBody.required ? " (required)" : ""}` }));
      for (const [type, media] of Object.entries(requestBody.content || {})) {
        body.append(el("p", { class: "note" }, el("code", { text: type })),
          el("pre", { class: "schema", text: schemaText(media.schema || {}) }),
          el("details", {}, el("summary", { text: "Example" }), el("pre", { text: JSON.stringify(mediaExample(media), null, 2) })));
      }
    }
    body.append(el("h4", { text: "Responses" }));
    const rows = Object.entries(operation.responses || {}).map(([status, rawResponse]) => {
      const response = resolve(rawResponse);
      const contents = Object.entries(response.content || {});
      return el("tr", {},
        el("td", {}, el("span", { class: `status s${status[0]}`, text: status })),
        el("td", {}, inline(response.description || ""),
          contents.map(([type, media]) => el("details", {},
            el("summary", {}, el("code", { text: type })),
            el("pre", { class: "schema", text: schemaText(media.schema || {}) }),
            el("pre", { text: JSON.stringify(mediaExample(media), null, 2) })))));
    });
    body.append(el("table", {}, el("tbody", {}, rows)));
    body.append(renderTry({ path, method, operation, parameters, id, requestBody, auth }));
    article.append(body);
    return article;
  }

  function renderTry({ path, method, parameters, id, requestBody, auth }) {
    const inputs = [];
    const fields = el("div", { class: "fields" });
    for (const p of parameters.filter((p) => p.in === "path" || p.in === "query")) {
      const input = el("input", { type: "text", name: p.name, placeholder: p.example !== undefined ? String(p.example) : p.in, "aria-label": p.name });
      if (p.in === "path" && p.example !== undefined) input.value = String(p.example);
      inputs.push({ parameter: p, input });
      fields.append(el("label", {}, el("code", { text: p.name }), p.required ? " *" : ""), input);
    }
    let bodyInput = null;
    let contentType = null;
    if (requestBody) {
      const [type, media] = Object.entries(requestBody.content || {})[0] || ["application/json", {}];
      contentType = type;
      bodyInput = el("textarea", { name: "body", "aria-label": "request body", spellcheck: "false" });
      bodyInput.value = JSON.stringify(mediaExample(media), null, 2);
      fields.append(el("label", {}, "body"), bodyInput);
    }
    const button = el("button", { type: "submit", "data-try": id, text: `Send ${method.toUpperCase()}` });
    const result = el("div", { class: "result", "data-result": id, "aria-live": "polite" });
    const form = el("form", { class: "try" }, el("h4", { text: "Try it" }),
      el("p", { class: "note", text: auth.kind === "none" ? "Needs no credentials." : `Uses the key pasted at the top (${auth.label}).` }),
      fields, button, result);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      send({ path, method, inputs, bodyInput, contentType, auth, button, result });
    });
    return form;
  }

  async function send({ path, method, inputs, bodyInput, contentType, auth, button, result }) {
    result.replaceChildren();
    result.removeAttribute("data-status");
    let url = path;
    const query = new URLSearchParams();
    for (const { parameter, input } of inputs) {
      const value = input.value.trim();
      if (parameter.in === "path") {
        if (!value) { result.append(el("p", { class: "error", text: `Fill in the path parameter '${parameter.name}'.` })); return; }
        url = url.replace(`{${parameter.name}}`, encodeURIComponent(value));
      } else if (value) {
        query.set(parameter.name, value);
      }
    }
    if (query.toString()) url += `?${query}`;
    const headers = { Accept: "application/json, application/scim+json, text/plain;q=0.9, */*;q=0.5" };
    if (auth.kind !== "none") {
      if (!credential) { result.append(el("p", { class: "error", text: "Paste a key at the top of the page first." })); return; }
      if (auth.kind === "scim") headers.Authorization = `Bearer ${credential}`;
      else headers["X-Admin-API-Key"] = credential;
    }
    let body;
    if (bodyInput) { headers["Content-Type"] = contentType; body = bodyInput.value; }
    button.disabled = true;
    const started = performance.now();
    try {
      const response = await fetch(url, { method: method.toUpperCase(), headers, body });
      const text = await response.text();
      const elapsed = Math.round(performance.now() - started);
      let shown = text;
      try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (_) { /* not JSON: show as is */ }
      if (shown.length > 20000) shown = `${shown.slice(0, 20000)}\n… (${shown.length} characters in all)`;
      result.setAttribute("data-status", String(response.status));
      result.append(
        el("p", {}, el("span", { class: `status s${String(response.status)[0]}`, text: `${response.status} ${response.statusText}` }),
          ` · ${elapsed} ms · `, el("code", { text: `${method.toUpperCase()} ${url}` })),
        el("p", { class: "note" }, `Content-Type: ${response.headers.get("Content-Type") || "—"} · X-Request-Id: ${response.headers.get("X-Request-Id") || "—"}`),
        el("pre", { text: shown || "(empty body)" }));
    } catch (error) {
      result.setAttribute("data-status", "network-error");
      result.append(el("p", { class: "error", text: `The request failed: ${error.message}` }));
    } finally {
      button.disabled = false;
    }
  }
})();
