"""One self-contained, offline HTML page that draws a graph (``deploykit inspect --html``).

Python writes the graph as JSON into the page; the page's inline script lays it out and
draws it as SVG, with no library and no network access:

- layered layout, top to bottom: layer = longest path from a graph input; edges that span
  several layers get invisible waypoints so they route between boxes; the order within a
  layer is refined by barycenter sweeps; x positions are the average of a left-packed and a
  right-packed placement around each node's neighbours (both keep the order and the gaps,
  so their average does too);
- click a box: op, name, module, source, attributes, inputs (activations and weights with
  shape and size), outputs, FLOPs, parameters;
- search by value name, op or module (Enter jumps to the next match); wheel zooms, drag
  pans, "fit" shows everything;
- ``window.deploykitGraph`` (node count, select(i)) and ``data-ready`` on <body> let tests
  drive the page.
"""

from __future__ import annotations

import html
import json
import math
from typing import Optional

from ..ir.graph import CONSTANT, NUMPY_DTYPES, Graph
from ..ir.printer import format_attr, format_graph
from .stats import graph_stats, human


def _label(node) -> str:
    """The op, with its fused epilogue spelled out: "conv2d + add + relu"."""
    parts = [node.op]
    if node.op in ("conv2d", "linear") and len(node.inputs) > 3 and node.inputs[3] is not None:
        parts.append("add")
    low, high = node.attrs.get("act_min", -math.inf), node.attrs.get("act_max", math.inf)
    if (low, high) == (0.0, math.inf):
        parts.append("relu")
    elif (low, high) == (0.0, 6.0):
        parts.append("relu6")
    elif (low, high) != (-math.inf, math.inf):
        parts.append("clamp")
    return " + ".join(parts)


def graph_to_json(graph: Graph, title: str = "") -> dict:
    from ..passes.memory_plan import plan_memory

    nodes = []
    edges = []
    producer = {}

    def value_info(v):
        return {"name": v.name, "type": v.type_str(), "kind": v.kind,
                "bytes": v.numel * NUMPY_DTYPES[v.dtype].itemsize}

    for v in graph.inputs:
        producer[v.name] = len(nodes)
        nodes.append({"kind": "input", "op": "input", "name": v.name, "outputs": [value_info(v)], "inputs": [],
                      "attrs": [], "flops": 0, "params": 0, "weightBytes": 0, "module": "", "source": ""})
    for s in graph_stats(graph):
        node = s.node
        index = len(nodes)
        for v in node.inputs:
            if v is not None and v.name in producer:
                edges.append([producer[v.name], index, v.name, v.type_str()])
        nodes.append({
            "kind": "op", "op": node.op, "label": _label(node), "name": node.outputs[0].name if node.outputs else node.op, "module": node.name, "source": node.source,
            # A subgraph (if / loop) shows as its printed text in the details panel.
            "attrs": [[k, format_graph(v) if isinstance(v, Graph) else format_attr(v)] for k, v in node.attrs.items()],
            "inputs": [None if v is None else value_info(v) for v in node.inputs],
            "outputs": [value_info(v) for v in node.outputs],
            "flops": s.flops, "params": s.params, "weightBytes": s.weight_bytes,
        })
        for v in node.outputs:
            producer[v.name] = index
    for v in graph.outputs:
        index = len(nodes)
        if v.name in producer:
            edges.append([producer[v.name], index, v.name, v.type_str()])
        nodes.append({"kind": "output", "op": "output", "name": v.name, "inputs": [value_info(v)], "outputs": [],
                      "attrs": [], "flops": 0, "params": 0, "weightBytes": 0, "module": "",
                      "source": "constant" if v.kind == CONSTANT else ""})
    stats = graph_stats(graph)
    return {
        "title": title or graph.name,
        "nodes": nodes,
        "edges": edges,
        "summary": {
            "ops": len(graph.nodes),
            "params": graph.num_parameters(),
            "weights": human(graph.weights_bytes(), "B"),
            "flops": human(sum(s.flops for s in stats)),
            "arena": human(plan_memory(graph).activation_bytes, "B"),
        },
    }


_CSS = r"""
* { box-sizing: border-box; }
html, body { margin: 0; height: 100%; font: 13px/1.4 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1d2430; }
#bar { position: fixed; top: 0; left: 0; right: 0; height: 44px; display: flex; align-items: center; gap: 10px;
       padding: 0 12px; background: #f6f8fb; border-bottom: 1px solid #d8dee8; z-index: 2; }
#bar h1 { font-size: 14px; margin: 0; white-space: nowrap; }
#bar .summary { color: #5b6678; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
#bar input { width: 220px; padding: 4px 8px; border: 1px solid #b9c3d3; border-radius: 4px; }
#bar button { padding: 3px 9px; border: 1px solid #b9c3d3; background: #fff; border-radius: 4px; cursor: pointer; }
#matches { color: #5b6678; min-width: 70px; }
#canvas { position: fixed; top: 44px; left: 0; right: 360px; bottom: 0; cursor: grab; background: #fff; }
#canvas.dragging { cursor: grabbing; }
svg { width: 100%; height: 100%; display: block; }
#details { position: fixed; top: 44px; right: 0; width: 360px; bottom: 0; overflow: auto; padding: 12px 14px;
           border-left: 1px solid #d8dee8; background: #fbfcfe; }
#details h2 { font-size: 15px; margin: 0 0 4px; }
#details h3 { font-size: 12px; margin: 14px 0 4px; text-transform: uppercase; color: #5b6678; letter-spacing: .04em; }
#details table { border-collapse: collapse; width: 100%; }
#details td { padding: 2px 4px; vertical-align: top; border-bottom: 1px solid #edf0f5; word-break: break-all; white-space: pre-wrap; }
#details td:first-child { color: #5b6678; white-space: nowrap; word-break: normal; }
#details .hint { color: #7a869a; }
.node rect { stroke: #7a869a; stroke-width: 1; rx: 5; ry: 5; }
.node text { font-size: 11px; pointer-events: none; }
.node .op { font-weight: 600; }
.node .shape { fill: #5b6678; font-size: 10px; }
.node { cursor: pointer; }
.node.match rect { stroke: #e08a00; stroke-width: 3; }
.node.selected rect { stroke: #d03050; stroke-width: 3; }
.edge { fill: none; stroke: #9aa5b5; stroke-width: 1.2; }
.edge.hot { stroke: #d03050; stroke-width: 2; }
"""

_JS = r"""
(function () {
  "use strict";
  const G = JSON.parse(document.getElementById("graph-data").textContent);
  const SVGNS = "http://www.w3.org/2000/svg";
  const N = G.nodes.length;
  const COLORS = { input: "#e3f6e8", output: "#fbeee3", conv2d: "#dbe8fb", linear: "#dbe8fb",
    batch_norm: "#efe3fb", relu: "#fde9e9", hardtanh: "#fde9e9", sigmoid: "#fde9e9", add: "#e9f7f7",
    mul: "#e9f7f7", max_pool2d: "#e8f4e0", avg_pool2d: "#e8f4e0", adaptive_avg_pool2d: "#e8f4e0",
    mean: "#e8f4e0", softmax: "#fdf3dc", reshape: "#f1f1f1", flatten: "#f1f1f1", cat: "#f1f1f1" };
  const H = 40, LAYER_GAP = 34, GAP = 18;
  const fmt = (n) => Number(n).toLocaleString("en-US");
  const human = (n, unit) => {
    const k = unit === "B" ? 1024 : 1000;
    const s = unit === "B" ? ["B", "KiB", "MiB", "GiB"] : ["", "K", "M", "G", "T"];
    let i = 0; while (Math.abs(n) >= k && i < s.length - 1) { n /= k; i++; }
    return (i ? n.toFixed(2) : String(Math.round(n))) + (unit === "B" ? " " : "") + s[i];
  };
  const esc = (t) => String(t).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
  const shapeOf = (n) => n.kind === "output" ? n.inputs[0].type : (n.outputs[0] ? n.outputs[0].type : "");
  const labelOf = (n) => n.kind === "op" ? n.label : n.kind + " " + n.name;

  // ---- layout --------------------------------------------------------------------------------
  // Nodes come in execution order, so every edge goes from a lower index to a higher one.
  const layer = new Array(N).fill(0);
  for (const [s, d] of G.edges) layer[d] = Math.max(layer[d], layer[s] + 1);
  const width = G.nodes.map((n) => Math.max(90, 7 * Math.max(labelOf(n).length, shapeOf(n).length) + 18));
  // Vertices: real nodes, then waypoints of edges spanning more than one layer.
  const vx = [];  // {layer, w, real}
  for (let i = 0; i < N; i++) vx.push({ layer: layer[i], w: width[i], real: i });
  const up = vx.map(() => []), down = vx.map(() => []);
  const paths = [];  // per edge: the vertex chain from source to target
  for (const [s, d] of G.edges) {
    const chain = [s];
    for (let l = layer[s] + 1; l < layer[d]; l++) {
      vx.push({ layer: l, w: 8, real: -1 }); up.push([]); down.push([]);
      chain.push(vx.length - 1);
    }
    chain.push(d);
    for (let k = 0; k + 1 < chain.length; k++) { down[chain[k]].push(chain[k + 1]); up[chain[k + 1]].push(chain[k]); }
    paths.push(chain);
  }
  const layers = [];
  vx.forEach((v, i) => { (layers[v.layer] = layers[v.layer] || []).push(i); });
  const pos = new Array(vx.length).fill(0);
  const reindex = () => layers.forEach((L) => L.forEach((v, i) => { pos[v] = i; }));
  reindex();
  const bary = (v, nbrs) => nbrs.length ? nbrs.reduce((a, u) => a + pos[u], 0) / nbrs.length : pos[v];
  for (let it = 0; it < 6; it++) {
    const order = it % 2 === 0 ? layers.keys() : [...layers.keys()].reverse();
    for (const l of order) {
      const L = layers[l];
      const key = new Map(L.map((v) => [v, bary(v, it % 2 === 0 ? up[v] : down[v])]));
      L.sort((a, b) => key.get(a) - key.get(b) || pos[a] - pos[b]);
      L.forEach((v, i) => { pos[v] = i; });
    }
  }
  const x = new Array(vx.length).fill(0);
  layers.forEach((L) => { let c = 0; L.forEach((v) => { x[v] = c + vx[v].w / 2; c += vx[v].w + GAP; }); });
  const sep = (a, b) => (vx[a].w + vx[b].w) / 2 + GAP;
  for (let it = 0; it < 8; it++) {
    const order = it % 2 === 0 ? [...layers.keys()] : [...layers.keys()].reverse();
    for (const l of order) {
      const L = layers[l];
      const want = L.map((v) => {
        const nb = up[v].concat(down[v]);
        return nb.length ? nb.reduce((a, u) => a + x[u], 0) / nb.length : x[v];
      });
      const left = want.slice(), right = want.slice();
      for (let i = 1; i < L.length; i++) left[i] = Math.max(left[i], left[i - 1] + sep(L[i - 1], L[i]));
      for (let i = L.length - 2; i >= 0; i--) right[i] = Math.min(right[i], right[i + 1] - sep(L[i], L[i + 1]));
      L.forEach((v, i) => { x[v] = (left[i] + right[i]) / 2; });
    }
  }
  const minX = Math.min(...vx.map((v, i) => x[i] - v.w / 2));
  const y = vx.map((v) => v.layer * (H + LAYER_GAP));
  for (let i = 0; i < vx.length; i++) x[i] -= minX;
  const totalW = Math.max(...vx.map((v, i) => x[i] + v.w / 2));
  const totalH = (layers.length) * (H + LAYER_GAP);

  // ---- drawing ---------------------------------------------------------------------------------
  const svg = document.getElementById("svg");
  const view = document.createElementNS(SVGNS, "g");
  svg.appendChild(view);
  const edgeEls = [];
  const el = (name, attrs, parent) => {
    const e = document.createElementNS(SVGNS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    (parent || view).appendChild(e);
    return e;
  };
  const defs = el("defs", {});
  const marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "10", refY: "5", markerWidth: "7",
    markerHeight: "7", orient: "auto-start-reverse" }, defs);
  el("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#9aa5b5" }, marker);
  paths.forEach((chain, e) => {
    const pts = chain.map((v, k) => [x[v], k === 0 ? y[v] + H : (k === chain.length - 1 ? y[v] : y[v] + H / 2)]);
    let d = `M ${pts[0][0]} ${pts[0][1]}`;
    for (let k = 1; k < pts.length; k++) {
      const [px, py] = pts[k - 1], [qx, qy] = pts[k], my = (py + qy) / 2;
      d += ` C ${px} ${my} ${qx} ${my} ${qx} ${qy}`;
    }
    const p = el("path", { d, class: "edge", "marker-end": "url(#arrow)" });
    const t = document.createElementNS(SVGNS, "title"); t.textContent = `%${G.edges[e][2]} : ${G.edges[e][3]}`;
    p.appendChild(t);
    edgeEls.push(p);
  });
  const nodeEls = [];
  G.nodes.forEach((n, i) => {
    const g = el("g", { class: "node", "data-id": String(i), "data-name": n.name, "data-op": n.op,
      transform: `translate(${x[i] - width[i] / 2},${y[i]})` });
    el("rect", { width: width[i], height: H, fill: COLORS[n.kind === "op" ? n.op : n.kind] || "#eef3fb" }, g);
    const t1 = el("text", { x: width[i] / 2, y: 16, "text-anchor": "middle", class: "op" }, g);
    t1.textContent = labelOf(n);
    const t2 = el("text", { x: width[i] / 2, y: 31, "text-anchor": "middle", class: "shape" }, g);
    t2.textContent = shapeOf(n);
    g.addEventListener("click", (ev) => { ev.stopPropagation(); select(i, false); });
    nodeEls.push(g);
  });

  // ---- zoom and pan --------------------------------------------------------------------------------
  const canvas = document.getElementById("canvas");
  let tx = 0, ty = 0, k = 1;
  const apply = () => view.setAttribute("transform", `translate(${tx},${ty}) scale(${k})`);
  const fit = () => {
    const r = canvas.getBoundingClientRect();
    k = Math.min(r.width / (totalW + 40), r.height / (totalH + 40), 1.5);
    k = Math.max(k, 0.02);
    tx = (r.width - totalW * k) / 2; ty = 20 * k;
    apply();
  };
  const zoomAt = (factor, cx, cy) => {
    const nk = Math.min(Math.max(k * factor, 0.02), 8);
    tx = cx - (cx - tx) * (nk / k); ty = cy - (cy - ty) * (nk / k); k = nk; apply();
  };
  canvas.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    const r = canvas.getBoundingClientRect();
    zoomAt(Math.exp(-ev.deltaY * 0.0015), ev.clientX - r.left, ev.clientY - r.top);
  }, { passive: false });
  let drag = null;
  canvas.addEventListener("mousedown", (ev) => { drag = { x: ev.clientX - tx, y: ev.clientY - ty }; canvas.classList.add("dragging"); });
  window.addEventListener("mousemove", (ev) => { if (drag) { tx = ev.clientX - drag.x; ty = ev.clientY - drag.y; apply(); } });
  window.addEventListener("mouseup", () => { drag = null; canvas.classList.remove("dragging"); });
  const center = (i) => {
    const r = canvas.getBoundingClientRect();
    if (k < 0.6) k = 0.9;
    tx = r.width / 2 - x[i] * k; ty = r.height / 2 - (y[i] + H / 2) * k; apply();
  };
  document.getElementById("fit").addEventListener("click", fit);
  document.getElementById("zoom-in").addEventListener("click", () => { const r = canvas.getBoundingClientRect(); zoomAt(1.25, r.width / 2, r.height / 2); });
  document.getElementById("zoom-out").addEventListener("click", () => { const r = canvas.getBoundingClientRect(); zoomAt(0.8, r.width / 2, r.height / 2); });

  // ---- details ------------------------------------------------------------------------------------
  const details = document.getElementById("details");
  let selected = -1;
  const valueRow = (v, slot) => v === null
    ? `<tr><td>${esc(slot)}</td><td class="hint">absent</td></tr>`
    : `<tr><td>${esc(slot)}</td><td>%${esc(v.name)} : ${esc(v.type)}${v.kind === "constant"
        ? ` <span class="hint">weight, ${human(v.bytes, "B")}</span>` : ""}</td></tr>`;
  function select(i, recenter) {
    if (selected >= 0) nodeEls[selected].classList.remove("selected");
    edgeEls.forEach((p) => p.classList.remove("hot"));
    selected = i;
    nodeEls[i].classList.add("selected");
    G.edges.forEach((e, j) => { if (e[0] === i || e[1] === i) edgeEls[j].classList.add("hot"); });
    const n = G.nodes[i];
    let h = `<h2>${esc(labelOf(n))}</h2><div class="hint">%${esc(n.name)}</div><table>`;
    h += `<tr><td>op</td><td>${esc(n.op)}</td></tr>`;
    if (n.module) h += `<tr><td>module</td><td>${esc(n.module)}</td></tr>`;
    if (n.source) h += `<tr><td>source</td><td>${esc(n.source)}</td></tr>`;
    if (n.kind === "op") {
      h += `<tr><td>FLOPs</td><td>${fmt(n.flops)} (${human(n.flops)})</td></tr>`;
      h += `<tr><td>parameters</td><td>${fmt(n.params)}</td></tr>`;
      h += `<tr><td>weights</td><td>${fmt(n.weightBytes)} bytes (${human(n.weightBytes, "B")})</td></tr>`;
    }
    h += "</table>";
    if (n.attrs.length) h += "<h3>attributes</h3><table>" + n.attrs.map(([a, v]) => `<tr><td>${esc(a)}</td><td>${esc(v)}</td></tr>`).join("") + "</table>";
    if (n.inputs.length) h += "<h3>inputs</h3><table>" + n.inputs.map((v, j) => valueRow(v, String(j))).join("") + "</table>";
    if (n.outputs.length) h += "<h3>outputs</h3><table>" + n.outputs.map((v, j) => valueRow(v, String(j))).join("") + "</table>";
    details.innerHTML = h;
    details.dataset.selected = String(i);
    if (recenter) center(i);
  }

  // ---- search -------------------------------------------------------------------------------------
  const search = document.getElementById("search"), matchesEl = document.getElementById("matches");
  let matches = [], cursor = -1;
  search.addEventListener("input", () => {
    const q = search.value.trim().toLowerCase();
    matches = [];
    nodeEls.forEach((g, i) => {
      const n = G.nodes[i];
      const hit = q !== "" && (n.name.toLowerCase().includes(q) || n.op.toLowerCase().includes(q) || (n.module || "").toLowerCase().includes(q));
      g.classList.toggle("match", hit);
      if (hit) matches.push(i);
    });
    cursor = -1;
    matchesEl.textContent = q ? `${matches.length} match${matches.length === 1 ? "" : "es"}` : "";
  });
  search.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && matches.length) { cursor = (cursor + 1) % matches.length; select(matches[cursor], true); }
  });

  document.getElementById("summary").textContent =
    `${G.summary.ops} ops · ${fmt(G.summary.params)} parameters (${G.summary.weights}) · ${G.summary.flops} FLOPs · arena ${G.summary.arena}`;
  fit();
  window.addEventListener("resize", fit);
  window.deploykitGraph = { nodeCount: N, edgeCount: G.edges.length, select: (i) => select(i, true),
    layout: () => G.nodes.map((n, i) => ({ x: x[i], y: y[i], w: width[i], layer: layer[i] })) };
  document.body.dataset.ready = "1";
})();
"""


def format_html(graph: Graph, title: str = "") -> str:
    data = json.dumps(graph_to_json(graph, title), separators=(",", ":"))
    data = data.replace("</", "<\\/")  # the JSON sits inside a <script> element
    page_title = html.escape(title or graph.name)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{page_title} · deploykit</title>
<style>{_CSS}</style>
</head>
<body>
<div id="bar">
  <h1>{page_title}</h1>
  <input id="search" type="search" placeholder="search name, op, module (Enter: next)" autocomplete="off">
  <span id="matches"></span>
  <button id="fit" title="show the whole graph">fit</button>
  <button id="zoom-in" title="zoom in">+</button>
  <button id="zoom-out" title="zoom out">&minus;</button>
  <span class="summary" id="summary"></span>
</div>
<div id="canvas"><svg id="svg" xmlns="http://www.w3.org/2000/svg"></svg></div>
<div id="details"><p class="hint">Click a box to see its op, attributes, inputs, outputs, FLOPs and weights.
Wheel: zoom. Drag: pan.</p></div>
<script type="application/json" id="graph-data">{data}</script>
<script>{_JS}</script>
</body>
</html>
"""


def write_html(graph: Graph, path, title: Optional[str] = None) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(format_html(graph, title or ""))
