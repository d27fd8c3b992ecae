// Renders openapi.json as a list of operations. Text goes in with textContent, never HTML.
"use strict";
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}
function schemaText(schema, spec) {
  return JSON.stringify(resolve(schema, spec, 0), null, 2);
}
function resolve(schema, spec, depth) {
  if (!schema || depth > 6) return schema;
  if (schema.$ref) {
    const name = schema.$ref.split("/").pop();
    return resolve(spec.components.schemas[name], spec, depth + 1);
  }
  if (Array.isArray(schema)) return schema.map((s) => resolve(s, spec, depth + 1));
  if (typeof schema !== "object") return schema;
  const out = {};
  for (const [k, v] of Object.entries(schema)) out[k] = typeof v === "object" ? resolve(v, spec, depth + 1) : v;
  return out;
}
async function main() {
  const root = document.getElementById("ops");
  const spec = await (await fetch("openapi.json")).json();
  root.textContent = "";
  const byTag = {};
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const tag = (op.tags || ["other"])[0];
      (byTag[tag] = byTag[tag] || []).push([method, path, op]);
    }
  }
  for (const [tag, ops] of Object.entries(byTag)) {
    root.append(el("h2", {}, tag));
    for (const [method, path, op] of ops) {
      const body = el("div", {});
      if (op.description) body.append(el("p", {}, op.description));
      if (op.parameters && op.parameters.length) {
        const table = el("table", {}, el("tr", {}, el("th", {}, "parameter"), el("th", {}, "in"), el("th", {}, "type")));
        for (const p of op.parameters) {
          const type = p.schema ? (p.schema.type || (p.schema.anyOf || []).map((s) => s.type || s.format).join(" | ")) : "";
          table.append(el("tr", {}, el("td", {}, el("code", {}, p.name + (p.required ? " *" : ""))), el("td", {}, p.in), el("td", {}, type)));
        }
        body.append(table);
      }
      if (op.requestBody) {
        const content = op.requestBody.content["application/json"];
        body.append(el("p", {}, "Request body:"), el("pre", {}, schemaText(content.schema, spec)));
      }
      const codes = Object.keys(op.responses || {}).join(", ");
      body.append(el("p", {}, "Answers: " + codes));
      root.append(el("details", {}, el("summary", {}, el("span", { class: "m " + method }, method.toUpperCase()), el("code", {}, path), " — " + (op.summary || "")), body));
    }
  }
}
main().catch((e) => { document.getElementById("ops").textContent = "Could not load openapi.json: " + e; });
