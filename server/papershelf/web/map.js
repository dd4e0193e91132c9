// The map of the library: every embedded paper a point on a canvas (GET /api/map: typed arrays, one answer),
// coloured by cluster or by tag, the clusters' labels where their papers are. Wheel to zoom, drag to pan,
// double-click to see it all; hover names a paper, a click opens it; a search lights up its hits.
const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
  "#bab0ac", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
const HOVER_PX = 7; // how near the pointer a point must be to be hovered
const decode = (b64, Type) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  return new Type(bytes.buffer);
};
const rgb = (hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));

export class LibraryMap {
  constructor(box, { api, open }) {
    this.box = box; // #library-map
    this.api = api;
    this.open = open; // (paper id) => show that paper
    this.canvas = box.querySelector("canvas");
    this.tip = box.querySelector(".map-tip");
    this.view = { scale: 1, x: 0, y: 0 }; // screen = centre + (world × scale + offset) × half the shorter side
    this.highlight = null; // Set of positions lit by a search, or null
    this.colourBy = "cluster";
    this.titles = new Map();
    this.hovered = -1;
    this.listen();
  }

  async load() {
    const m = await this.api("/api/map");
    this.data = m;
    this.ids = m.ids;
    this.pos = new Map(m.ids.map((id, i) => [id, i]));
    this.x = decode(m.x, Float32Array);
    this.y = decode(m.y, Float32Array);
    this.cluster = decode(m.cluster, Int16Array);
    this.grid = this.buildGrid();
    this.packed = null; // colours of the old points
    this.box.dataset.points = String(m.count);
    this.box.dataset.method = m.method;
    this.draw();
    return m;
  }

  // Positions bucketed on a 64×64 grid of the [-1, 1] square: hovering looks in a few buckets, not at every point.
  buildGrid() {
    const grid = new Map();
    for (let i = 0; i < this.ids.length; i++) {
      const key = this.cell(this.x[i], this.y[i]);
      if (!grid.has(key)) grid.set(key, []);
      grid.get(key).push(i);
    }
    return grid;
  }

  cell(x, y) {
    const c = (v) => Math.max(0, Math.min(63, Math.floor((v + 1) * 32)));
    return c(x) * 64 + c(y);
  }

  size() {
    const r = this.canvas.getBoundingClientRect();
    return { w: r.width, h: r.height, half: Math.min(r.width, r.height) / 2 * 0.92 };
  }

  // World [-1, 1] → CSS pixels in the canvas, and back.
  toScreen(x, y) {
    const { w, h, half } = this.size();
    return [w / 2 + (x * this.view.scale + this.view.x) * half, h / 2 + (-y * this.view.scale + this.view.y) * half];
  }

  toWorld(sx, sy) {
    const { w, h, half } = this.size();
    return [((sx - w / 2) / half - this.view.x) / this.view.scale, -((sy - h / 2) / half - this.view.y) / this.view.scale];
  }

  // Where a paper is drawn (CSS pixels in the canvas), or null: for a link to it, and for the browser tests.
  project(id) {
    const i = this.pos?.get(id);
    if (i === undefined) return null;
    const [sx, sy] = this.toScreen(this.x[i], this.y[i]);
    return { x: sx, y: sy };
  }

  // Each point's colour, packed as the canvas's pixels want it (ABGR), lit or dimmed.
  colours() {
    const pack = (hex, alpha) => { const [r, g, b] = rgb(hex); return ((alpha << 24) | (b << 16) | (g << 8) | r) >>> 0; };
    const out = new Uint32Array(this.ids.length * 2);
    const tagged = this.colourBy === "cluster" ? null : new Set(this.data.tags[this.colourBy] || []);
    for (let i = 0; i < this.ids.length; i++) {
      const hex = tagged ? (tagged.has(i) ? "#d62728" : "#9aa0aa") : PALETTE[((this.cluster[i] % PALETTE.length) + PALETTE.length) % PALETTE.length];
      out[2 * i] = pack(hex, 255);
      out[2 * i + 1] = pack(hex, 40);
    }
    return out;
  }

  draw() {
    if (!this.ids) return;
    const dpr = window.devicePixelRatio || 1;
    const { w, h, half } = this.size();
    const W = Math.max(1, Math.round(w * dpr)), H = Math.max(1, Math.round(h * dpr));
    this.canvas.width = W;
    this.canvas.height = H;
    const ctx = this.canvas.getContext("2d");
    // Points straight into the pixels (100,000 fillRect calls would take several frames).
    const img = ctx.createImageData(W, H);
    const px = new Uint32Array(img.data.buffer);
    if (!this.packed || this.packedFor !== this.colourBy) { this.packed = this.colours(); this.packedFor = this.colourBy; }
    const colours = this.packed;
    const k = this.view.scale * half * dpr, ox = (w / 2 + this.view.x * half) * dpr, oy = (h / 2 + this.view.y * half) * dpr;
    const dot = Math.max(2, Math.round(2 * dpr));
    const paint = (i, lit, r) => {
      const cx = Math.round(ox + this.x[i] * k), cy = Math.round(oy - this.y[i] * k);
      if (cx < -r || cy < -r || cx > W + r || cy > H + r) return;
      const colour = colours[2 * i + (lit ? 0 : 1)];
      for (let Y = Math.max(0, cy - r + 1); Y < Math.min(H, cy + r); Y++) {
        px.fill(colour, Y * W + Math.max(0, cx - r + 1), Y * W + Math.min(W, cx + r));
      }
    };
    // The lit papers of a search are drawn last, larger, over the dimmed rest.
    for (let i = 0; i < this.ids.length; i++) if (!this.highlight || !this.highlight.has(i)) paint(i, !this.highlight, dot);
    if (this.highlight) for (const i of this.highlight) paint(i, true, dot + 1);
    ctx.putImageData(img, 0, 0);
    ctx.scale(dpr, dpr);
    ctx.font = "600 12px system-ui, sans-serif";
    const style = getComputedStyle(this.box);
    ctx.textAlign = "center";
    if (this.extra) { // the day's new papers: rings over the library's points
      ctx.lineWidth = 1.5;
      ctx.strokeStyle = style.getPropertyValue("--map-label") || "#222";
      for (let i = 0; i < this.extra.ids.length; i++) {
        const [sx, sy] = this.toScreen(this.extra.x[i], this.extra.y[i]);
        ctx.beginPath();
        ctx.arc(sx, sy, 5, 0, 2 * Math.PI);
        ctx.stroke();
      }
    }
    const placed = []; // the labels drawn so far: a label that would cover one is left out (the larger go first)
    for (const c of [...this.data.clusters].sort((a, b) => b.size - a.size)) {
      if (!c.label || c.size < Math.max(3, this.ids.length / 200)) continue;
      const [sx, sy] = this.toScreen(c.x, c.y);
      const half = ctx.measureText(c.label).width / 2 + 4;
      if (placed.some(([x, y, hw]) => Math.abs(x - sx) < hw + half && Math.abs(y - sy) < 16)) continue;
      placed.push([sx, sy, half]);
      ctx.lineWidth = 3;
      ctx.strokeStyle = style.getPropertyValue("--map-halo") || "#fff";
      ctx.strokeText(c.label, sx, sy);
      ctx.fillStyle = style.getPropertyValue("--map-label") || "#222";
      ctx.fillText(c.label, sx, sy);
    }
  }

  nearest(sx, sy) {
    const [wx, wy] = this.toWorld(sx, sy);
    const reach = HOVER_PX / (this.size().half * this.view.scale); // in world units
    let best = -1, bestD = Infinity;
    const c0 = this.cell(wx - reach, wy - reach), c1 = this.cell(wx + reach, wy + reach);
    for (let cx = Math.floor(c0 / 64); cx <= Math.floor(c1 / 64); cx++) {
      for (let cy = c0 % 64; cy <= c1 % 64; cy++) {
        for (const i of this.grid.get(cx * 64 + cy) || []) {
          const [px, py] = this.toScreen(this.x[i], this.y[i]);
          const d = (px - sx) ** 2 + (py - sy) ** 2;
          if (d < bestD && d <= HOVER_PX ** 2) { best = i; bestD = d; }
        }
      }
    }
    return best;
  }

  async hover(i, sx, sy) {
    this.hovered = i;
    this.box.dataset.hoverId = i >= 0 ? this.ids[i] : "";
    if (i < 0) { this.tip.hidden = true; return; }
    const id = this.ids[i];
    if (!this.titles.has(id)) this.titles.set(id, this.api(`/api/papers/${encodeURIComponent(id)}`).then((p) => p.title, () => id));
    const title = await this.titles.get(id);
    if (this.hovered !== i) return;
    this.tip.textContent = title;
    this.tip.hidden = false;
    const { w, h } = this.size(); // kept inside the map
    this.tip.style.left = `${Math.max(0, Math.min(sx + 12, w - this.tip.offsetWidth - 4))}px`;
    this.tip.style.top = `${sy + 12 + this.tip.offsetHeight > h ? sy - 12 - this.tip.offsetHeight : sy + 12}px`;
  }

  // The digest's new papers of a day, as rings where they would sit (GET /api/map/digest), or null.
  overlay(o) {
    this.extra = o && o.ids.length ? { ...o, x: decode(o.x, Float32Array), y: decode(o.y, Float32Array) } : null;
    this.box.dataset.overlay = this.extra ? String(this.extra.ids.length) : "";
    this.draw();
  }

  nearestExtra(sx, sy) {
    if (!this.extra) return -1;
    let best = -1, bestD = (HOVER_PX + 2) ** 2;
    for (let i = 0; i < this.extra.ids.length; i++) {
      const [px, py] = this.toScreen(this.extra.x[i], this.extra.y[i]);
      const d = (px - sx) ** 2 + (py - sy) ** 2;
      if (d <= bestD) { best = i; bestD = d; }
    }
    return best;
  }

  // Light up these papers (a search's hits), dim the rest; null: all as they are.
  light(ids) {
    this.highlight = ids ? new Set(ids.map((id) => this.pos.get(id)).filter((i) => i !== undefined)) : null;
    this.box.dataset.lit = this.highlight ? String(this.highlight.size) : "";
    this.draw();
  }

  listen() {
    let drag = null;
    const at = (e) => { const r = this.canvas.getBoundingClientRect(); return [e.clientX - r.left, e.clientY - r.top]; };
    this.canvas.addEventListener("wheel", (e) => {
      e.preventDefault();
      const [sx, sy] = at(e);
      const [wx, wy] = this.toWorld(sx, sy);
      this.view.scale = Math.min(200, Math.max(0.5, this.view.scale * Math.exp(-e.deltaY * 0.0015)));
      // Keep the point under the pointer where it was.
      const [nx, ny] = this.toScreen(wx, wy);
      const half = this.size().half;
      this.view.x += (sx - nx) / half;
      this.view.y += (sy - ny) / half;
      this.draw();
    }, { passive: false });
    this.canvas.addEventListener("pointerdown", (e) => { drag = { start: at(e), view: { ...this.view }, moved: false }; });
    window.addEventListener("pointerup", () => { setTimeout(() => { drag = null; }, 0); });
    this.canvas.addEventListener("pointermove", (e) => {
      const [sx, sy] = at(e);
      if (drag && (e.buttons & 1)) {
        const half = this.size().half;
        this.view.x = drag.view.x + (sx - drag.start[0]) / half;
        this.view.y = drag.view.y + (sy - drag.start[1]) / half;
        drag.moved = drag.moved || Math.abs(sx - drag.start[0]) + Math.abs(sy - drag.start[1]) > 3;
        this.draw();
        return;
      }
      const extra = this.nearestExtra(sx, sy);
      if (extra >= 0) { // one of the day's new papers
        this.hovered = -2 - extra;
        this.box.dataset.hoverId = this.extra.ids[extra];
        this.tip.textContent = `new today: ${this.extra.titles[extra]}`;
        this.tip.hidden = false;
        this.tip.style.left = `${sx + 12}px`;
        this.tip.style.top = `${sy + 12}px`;
        return;
      }
      const i = this.nearest(sx, sy);
      if (i !== this.hovered) this.hover(i, sx, sy);
    });
    this.canvas.addEventListener("pointerleave", () => this.hover(-1, 0, 0));
    this.canvas.addEventListener("click", (e) => {
      if (drag && drag.moved) return;
      const extra = this.nearestExtra(...at(e));
      if (extra >= 0) { window.open(this.extra.links[extra], "_blank", "noopener"); return; }
      const i = this.nearest(...at(e));
      if (i >= 0) this.open(this.ids[i]);
    });
    this.canvas.addEventListener("dblclick", () => { this.view = { scale: 1, x: 0, y: 0 }; this.draw(); });
    new ResizeObserver(() => this.draw()).observe(this.canvas);
  }
}
