// The span tree of one trace, built from its outline (GET /api/v1/traces/{id}/outline):
// plain arrays indexed by a span's position in the outline (oldest first), so a 10,000-span
// trace costs a few milliseconds to build and to flatten into visible rows. Nothing here
// trusts the data's shape: a span whose parent is missing (or whose ancestry loops) is shown
// at the root, marked `orphan`; a child outside its parent's time is marked `skew`.

/** outline {summary, start_time_ns, spans} -> {spans, nodes, roots, byId, order, errors, total}. */
export function buildModel(outline) {
  const spans = Array.isArray(outline?.spans) ? outline.spans : [];
  const byId = new Map();
  spans.forEach((span, index) => byId.set(span.id, index));
  const nodes = spans.map((span, index) => ({
    index,
    span,
    parent: -1,
    children: [],
    depth: 0,
    orphan: false,
    skew: false,
  }));
  const roots = [];
  for (const node of nodes) {
    const parentId = node.span.parent;
    const parent = parentId ? byId.get(parentId) : undefined;
    if (parent === undefined || parent === node.index) {
      node.orphan = Boolean(parentId);
      roots.push(node.index);
    } else {
      node.parent = parent;
      nodes[parent].children.push(node.index);
    }
  }
  const order = preorder(nodes, roots);
  if (order.length < nodes.length) {
    // Spans in a parent loop are reached from no root: show each at the root, marked.
    const seen = new Uint8Array(nodes.length);
    for (const index of order) seen[index] = 1;
    for (const node of nodes) {
      if (!seen[node.index]) {
        node.orphan = true;
        node.parent = -1;
        roots.push(node.index);
      }
    }
    for (const node of nodes) node.children = node.children.filter((child) => nodes[child].parent === node.index);
    order.splice(0, order.length, ...preorder(nodes, roots));
  }
  let total = 0;
  for (const node of nodes) {
    const { start, duration } = node.span;
    total = Math.max(total, num(start) + Math.max(0, num(duration)));
    if (node.parent >= 0) {
      const parent = nodes[node.parent].span;
      const end = num(start) + num(duration);
      node.skew = num(start) < num(parent.start) || end > num(parent.start) + num(parent.duration);
    }
  }
  const errors = order.filter((index) => nodes[index].span.error);
  // A trace through several services names the service on each span not of the first root's.
  const service = nodes[order[0]]?.span.service ?? "";
  return { spans, nodes, roots, byId, order, errors, total: total || 1, service };
}

function num(value) {
  const number = Number(value);
  return Number.isFinite(number) ? number : 0;
}

/** Indexes in depth-first order from `roots`, setting each node's depth (no recursion:
 * a 10,000-deep chain is a legal trace). */
function preorder(nodes, roots) {
  const out = [];
  const stack = [];
  for (let i = roots.length - 1; i >= 0; i--) stack.push([roots[i], 0]);
  const seen = new Uint8Array(nodes.length);
  while (stack.length) {
    const [index, depth] = stack.pop();
    if (seen[index]) continue;
    seen[index] = 1;
    nodes[index].depth = depth;
    out.push(index);
    const children = nodes[index].children;
    for (let i = children.length - 1; i >= 0; i--) stack.push([children[i], depth + 1]);
  }
  return out;
}

/**
 * The rows to show, in tree order: children of a collapsed span are hidden; with `matches`
 * (a Set of indexes) only those and their ancestors are shown, collapsed or not.
 */
export function visibleRows(model, collapsed, matches) {
  const { nodes, order } = model;
  if (matches) {
    const keep = new Uint8Array(nodes.length);
    for (const index of matches) {
      for (let at = index; at >= 0 && !keep[at]; at = nodes[at].parent) keep[at] = 1;
    }
    return order.filter((index) => keep[index]);
  }
  if (!collapsed.size) return order;
  const rows = [];
  let skipBelow = -1; // depth under which rows are hidden (a collapsed span's subtree)
  for (const index of order) {
    const depth = nodes[index].depth;
    if (skipBelow >= 0 && depth > skipBelow) continue;
    skipBelow = collapsed.has(index) ? depth : -1;
    rows.push(index);
  }
  return rows;
}

/** The ancestors of `index`, nearest first. */
export function ancestors(model, index) {
  const out = [];
  for (let at = model.nodes[index]?.parent ?? -1; at >= 0; at = model.nodes[at].parent) out.push(at);
  return out;
}

const RUN_TYPES = new Set(["workflow", "subflow"]);

/** The workflow or subflow run a span is part of (itself, or its nearest such ancestor): its
 * outline span, or null. The workflow debugger opens that run with the span selected. */
export function enclosingRun(model, index) {
  for (const at of [index, ...ancestors(model, index)]) {
    const span = model.nodes[at]?.span;
    if (span && RUN_TYPES.has(span.type)) return span;
  }
  return null;
}

/** Every span that has children (for "collapse all"). */
export function parents(model) {
  return model.nodes.filter((node) => node.children.length).map((node) => node.index);
}

/** The next (step 1) or previous (step -1) error after `from` in tree order, wrapping; -1 if none. */
export function nextError(model, from, step) {
  const { errors, order } = model;
  if (!errors.length) return -1;
  const position = new Map(order.map((index, at) => [index, at]));
  const here = position.get(from) ?? -1;
  if (step > 0) return errors.find((index) => position.get(index) > here) ?? errors[0];
  for (let i = errors.length - 1; i >= 0; i--) if (position.get(errors[i]) < here) return errors[i];
  return errors[errors.length - 1];
}
