// r3 view: draws the runs embedded in #r3-data. Model output is untrusted: every text goes into the page through
// text nodes (el() below), never as markup; nothing here assigns innerHTML or builds HTML from strings.
"use strict";

const DATA = JSON.parse(document.getElementById("r3-data").textContent);
const PAGE = 100;          // cards (or rows) drawn at a time; "show more" draws the next ones
const CLIP_CHARS = 600;    // texts longer than this, or of more lines than CLIP_LINES, start collapsed
const CLIP_LINES = 8;

// el("div", {class: "x"}, "text", child): strings become text nodes, objects set attributes or on* listeners.
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// A long text: collapsed to a few lines with a button that shows it all (and collapses it again).
function longText(text) {
  text = text === null || text === undefined ? "" : String(text);
  const body = el("div", {class: "text"}, text);
  const lines = text.split("\n").length;
  if (text.length <= CLIP_CHARS && lines <= CLIP_LINES) return body;
  body.classList.add("clipped");
  const label = () => body.classList.contains("clipped")
    ? `show all (${text.length.toLocaleString()} characters${lines > 1 ? `, ${lines} lines` : ""})` : "collapse";
  const button = el("button", {class: "expand", type: "button"}, label());
  button.addEventListener("click", () => { body.classList.toggle("clipped"); button.textContent = label(); });
  return el("div", {class: "long"}, body, button);
}

function turn(kind, label, detail, text, reason) {
  return el("div", {class: `turn ${kind}`},
    el("div", {class: "label"}, label, detail ? el("span", {class: "detail"}, detail) : null),
    longText(text), reason !== null && reason !== undefined ? el("div", {class: "reason"}, reason) : null);
}

function table(headers, rows, cls) {
  return el("table", {class: cls || "summary"},
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))),
    el("tbody", {}, rows));
}

// "wrong: evaluates to 10, not 4"; a reason that only repeats the verdict ("correct") is not said twice.
function verdictText(correct, error, reason) {
  const verdict = error ? "verifier error" : correct ? "correct" : "wrong";
  return reason && reason.trim().toLowerCase() !== verdict ? `${verdict}: ${reason}` : verdict;
}

function tokens(n, finish) {
  const parts = [];
  if (n !== null && n !== undefined) parts.push(`${n} tokens`);
  if (finish === "length") parts.push("stopped at its token budget");
  return parts.join(", ");
}

// ---- eval episodes -------------------------------------------------------------------------------------------
function outcome(ep) {
  if (ep.solved_at === 1) return el("span", {class: "badge right"}, "right first time");
  if (ep.solved_at === null) return el("span", {class: "badge wrong"}, "still wrong");
  return el("span", {class: "badge right"}, `fixed after reflecting (attempt ${ep.solved_at})`);
}

function episodeCard(ep) {
  const children = [el("header", {},
    el("span", {class: "id"}, ep.id), el("span", {class: "index"}, `#${ep.index}`), outcome(ep),
    ep.tags.includes("verifier_error") ? el("span", {class: "badge warn"}, "verifier error") : null,
    ep.tags.includes("truncated") ? el("span", {class: "badge warn"}, "truncated") : null)];
  if (ep.system) children.push(turn("system", "system prompt", null, ep.system, null));
  children.push(turn("problem", "problem", null, ep.problem, null));
  ep.attempts.forEach((a, i) => {
    const name = i === 0 ? "first attempt" : `retry ${i}`;
    children.push(turn(a.correct ? "right" : "wrong", name, tokens(a.tokens, a.finish), a.text,
      verdictText(a.correct, a.error, a.reason)));
    const r = ep.reflections[i];
    if (r) children.push(turn("reflection", `reflection ${i + 1}`, tokens(r.tokens, r.finish), r.text, null));
  });
  return el("article", {class: "card episode", "data-id": ep.id}, children);
}

function reflectionLength(ep) {
  return ep.reflections.reduce((sum, r) => sum + (r.tokens || r.text.length), 0);
}

// The searchable text of an item, lower-cased once.
function haystack(item, fields) {
  if (item._text === undefined) item._text = fields(item).filter((t) => t !== null && t !== undefined).join("\n").toLowerCase();
  return item._text;
}

// A list with filter buttons, a search box, an optional sort and "show more": the shape every section shares.
function filteredList(container, opts) {
  const state = {filter: opts.initial || "all", query: "", sort: opts.sorts ? Object.keys(opts.sorts)[0] : null, shown: PAGE};
  const toolbar = el("div", {class: "toolbar"});
  const count = el("p", {class: "count"});
  const list = opts.makeList();
  const more = el("button", {class: "more", type: "button"});
  const buttons = {};
  for (const [key, label] of Object.entries(opts.filters)) {
    const n = key === "all" ? opts.items.length : opts.items.filter((x) => opts.matches(x, key)).length;
    buttons[key] = el("button", {class: "filter", type: "button", "data-filter": key, onclick: () => {
      state.filter = key; state.shown = PAGE; draw();
    }}, label, el("span", {class: "n"}, n.toLocaleString()));
    toolbar.append(buttons[key]);
  }
  const search = el("input", {type: "search", placeholder: opts.placeholder || "search all text",
    "aria-label": "search"});
  search.addEventListener("input", () => { state.query = search.value.trim().toLowerCase(); state.shown = PAGE; draw(); });
  toolbar.append(search);
  if (opts.sorts) {
    const select = el("select", {"aria-label": "sort"},
      Object.entries(opts.sorts).map(([key, s]) => el("option", {value: key}, s.label)));
    select.addEventListener("change", () => { state.sort = select.value; state.shown = PAGE; draw(); });
    toolbar.append(select);
  }
  more.addEventListener("click", () => { state.shown += PAGE; draw(); });
  container.append(toolbar, count, list.root, more);

  function draw() {
    for (const [key, button] of Object.entries(buttons)) button.classList.toggle("active", key === state.filter);
    let items = opts.items.filter((x) => state.filter === "all" || opts.matches(x, state.filter));
    if (state.query) items = items.filter((x) => haystack(x, opts.text).includes(state.query));
    if (opts.sorts && opts.sorts[state.sort].key) {
      const key = opts.sorts[state.sort].key;
      items = items.map((x, i) => [key(x), i, x]).sort((p, q) => p[0] - q[0] || p[1] - q[1]).map((p) => p[2]);
    }
    list.clear();
    items.slice(0, state.shown).forEach((x) => list.add(x));
    count.textContent = `showing ${Math.min(items.length, state.shown).toLocaleString()} of ` +
      `${items.length.toLocaleString()} ${opts.noun}` + (items.length < opts.items.length
        ? ` (${opts.items.length.toLocaleString()} in all)` : "");
    more.hidden = items.length <= state.shown;
    more.textContent = `show ${Math.min(PAGE, items.length - state.shown)} more`;
  }
  draw();
}

function cardList(render) {
  const root = el("div", {class: "cards"});
  return {root, clear: () => root.replaceChildren(), add: (x) => root.append(render(x))};
}

function summaryTable(rows) {
  return table(["metric", "value"], rows.map(([k, v]) => el("tr", {}, el("td", {}, k), el("td", {class: "num"}, v))));
}

function drawEval(section, root) {
  root.append(el("p", {class: "meta"}, [section.task, section.model, section.path].filter(Boolean).join(" · ")));
  if (section.summary.length) root.append(summaryTable(section.summary), el("p", {class: "note"},
    "shares with their 95% Wilson interval; truncated = stopped at the token budget"));
  else root.append(el("p", {class: "note"}, "unfinished run: no summary.json yet; its finished episodes are below"));
  if (section.system) root.append(turn("system", "system prompt (the same in every episode)", null, section.system, null));
  filteredList(root, {
    items: section.episodes, noun: "episodes", makeList: () => cardList(episodeCard),
    placeholder: "search problems, attempts, reflections and the verifier's reasons",
    filters: {all: "all", ...section.tags},
    matches: (ep, tag) => ep.tags.includes(tag),
    text: (ep) => [ep.id, ep.problem, ...ep.attempts.flatMap((a) => [a.text, a.reason]),
      ...ep.reflections.map((r) => r.text)],
    sorts: {order: {label: "problem order", key: null},
      longest: {label: "longest reflection first", key: (ep) => -reflectionLength(ep)},
      shortest: {label: "shortest reflection first", key: (ep) => reflectionLength(ep)}},
  });
}

// ---- two eval runs of the same problems -----------------------------------------------------------------------
function evalSection(name) {
  return DATA.sections.find((s) => s.kind === "eval" && s.name === name);
}

function solvedText(n) { return n === null ? "unsolved" : `attempt ${n}`; }

function drawCompare(section, root) {
  const a = evalSection(section.a), b = evalSection(section.b);
  const byIndex = (s) => new Map(s.episodes.map((ep) => [ep.index, ep]));
  const episodesA = byIndex(a), episodesB = byIndex(b);
  root.append(el("p", {class: "meta"}, `A = ${section.a}, B = ${section.b}`));
  const rows = section.rows.map((r) => el("tr", {class: r.excludes_zero ? "excludes" : null},
    el("td", {}, r.metric), el("td", {class: "num"}, r.a), el("td", {class: "num"}, r.b),
    el("td", {class: "num"}, r.difference), el("td", {class: "num interval"}, r.interval + (r.excludes_zero ? " *" : ""))));
  root.append(table(["metric", "A", "B", "B - A", "95% interval"], rows));
  root.append(el("p", {class: "note"}, "shares in %, differences in points; * the interval excludes 0. " +
    (section.paired ? `Accuracies are paired over the ${section.paired} problems both runs evaluated ` +
      "(Newcombe's paired interval); the other shares use the independent one." : "")));
  if (section.differing_settings.length) root.append(el("p", {class: "note"},
    `note: the runs differ in ${section.differing_settings.join(", ")}`));
  root.append(el("p", {class: "note"}, `fixed now: unsolved in A, solved in B (${section.solved_name}); broken now: ` +
    "the other way round. Click a row to see both episodes side by side."));

  const tbody = el("tbody", {});
  const list = {
    root: el("table", {class: "problems"}, el("thead", {}, el("tr", {},
      ["problem id", "problem", `A: ${section.a}`, `B: ${section.b}`, "change"].map((h) => el("th", {}, h)))), tbody),
    clear: () => tbody.replaceChildren(),
    add: (p) => {
      const badge = p.change === "fixed" ? "badge right" : p.change === "broken" ? "badge wrong" : "badge";
      const row = el("tr", {class: "row", "data-id": p.id, tabindex: 0},
        el("td", {}, p.id), el("td", {class: "problem"}, p.problem.split("\n")[0]),
        el("td", {}, solvedText(p.a)), el("td", {}, solvedText(p.b)),
        el("td", {}, el("span", {class: badge}, p.change === "same" ? "same" : `${p.change} now`)));
      const toggle = () => {
        const next = row.nextElementSibling;
        if (next && next.classList.contains("detail")) { next.remove(); row.classList.remove("open"); return; }
        row.classList.add("open");
        row.after(el("tr", {class: "detail"}, el("td", {colspan: 5}, el("div", {class: "side-by-side"},
          el("div", {class: "side a"}, el("h3", {}, `A: ${section.a}`), episodeCard(episodesA.get(p.index_a))),
          el("div", {class: "side b"}, el("h3", {}, `B: ${section.b}`), episodeCard(episodesB.get(p.index_b)))))));
      };
      row.addEventListener("click", toggle);
      row.addEventListener("keydown", (e) => { if (e.key === "Enter") toggle(); });
      tbody.append(row);
    },
  };
  filteredList(root, {
    items: section.problems, noun: "problems", makeList: () => list,
    placeholder: "search both runs' problems, attempts, reflections and reasons",
    filters: {changed: "changed", fixed: "fixed now", broken: "broken now", same: "same", all: "all"},
    initial: "changed",  // what changed is what a reader came for
    matches: (p, key) => key === "changed" ? p.change !== "same" : p.change === key,
    text: (p) => {
      const ea = episodesA.get(p.index_a), eb = episodesB.get(p.index_b);
      return [p.id, p.problem, ...[ea, eb].flatMap((ep) => [...ep.attempts.flatMap((x) => [x.text, x.reason]),
        ...ep.reflections.map((r) => r.text)])];
    },
  });
}

// ---- training -------------------------------------------------------------------------------------------------
function signed(x) { return `${x >= 0 ? "+" : ""}${x.toFixed(2)}`; }

// One failed attempt at one step and the reflections sampled for it (a GRPO group), best reward first.
function groupCard(g) {
  const n = g.reflections.length;
  const children = [el("header", {}, el("span", {class: "id"}, `step ${g.step}`),
    g.problem_id ? el("span", {class: "index"}, g.problem_id) : null,
    el("span", {class: g.right ? "badge right" : "badge wrong"}, `${g.right} of ${n} retr${n === 1 ? "y" : "ies"} right`),
    el("span", {class: "index"}, g.source === "completions" ? "TRL completions table" : "samples.jsonl"))];
  if (g.problem) children.push(turn("problem", "problem", null, g.problem, null));
  if (g.attempt) children.push(turn("wrong", "failed attempt", null, g.attempt, null));
  if (g.instruction) children.push(turn("problem", "reflection instruction", null, g.instruction, null));
  g.reflections.forEach((r, i) => {
    const numbers = [];
    if (typeof r.reward === "number") numbers.push(`reward ${r.reward.toFixed(2)}`);
    if (typeof r.advantage === "number") numbers.push(`advantage ${signed(r.advantage)}`);
    children.push(turn("reflection", n > 1 ? `reflection ${i + 1} of ${n}` : "reflection", numbers.join(" · "),
      r.reflection, null));
    if (r.retry !== null && r.retry !== undefined) {
      children.push(turn(r.correct ? "right" : "wrong", "retry", null, r.retry,
        r.correct === null || r.correct === undefined ? r.reason : verdictText(r.correct, false, r.reason)));
    }
  });
  return el("article", {class: "card group"}, children);
}

function reflectionLengths(g) { return g.reflections.map((r) => (r.reflection || "").length); }

function drawTrain(section, root) {
  root.append(el("p", {class: "meta"}, [section.task, section.model, section.path].filter(Boolean).join(" · ")));
  if (section.summary_lines.length) root.append(el("pre", {class: "lines"}, section.summary_lines.join("\n")));
  root.append(el("h3", {}, "alarms"));
  root.append(section.alarms.length
    ? el("ul", {class: "alarms"}, section.alarms.map((a) => el("li", {}, el("b", {}, `step ${a.step}, ${a.name}: `), a.message)))
    : el("p", {class: "note"}, "no alarm fired"));
  root.append(el("h3", {}, "training curves"));
  root.append(section.curves_png
    ? el("img", {class: "curves", alt: "training curves", src: "data:image/png;base64," + section.curves_png})
    : el("p", {class: "note"}, "no step logged the curves' metrics yet (fewer steps than logging_steps?)"));
  root.append(el("h3", {}, "reflections over training"));
  if (!section.log_completions) root.append(el("p", {class: "note"}, "TRL's completions table was not logged " +
    "(set log_completions: true in the recipe to see every reflection with its reward; docs/training.md)"));
  const steps = [...new Set(section.groups.map((g) => g.step))];
  const filters = {all: "all", right: "some retry right", none: "no retry right"};
  if (steps.length > 1) {
    filters[`step:${steps[0]}`] = `first step (${steps[0]})`;
    filters[`step:${steps[steps.length - 1]}`] = `last step (${steps[steps.length - 1]})`;
  }
  filteredList(root, {
    items: section.groups, noun: "failed attempts with their reflections", makeList: () => cardList(groupCard),
    filters, placeholder: "search problems, attempts, reflections, retries and reasons",
    matches: (g, key) => key === "right" ? g.right > 0 : key === "none" ? g.right === 0
      : key.startsWith("step:") ? String(g.step) === key.slice(5) : true,
    text: (g) => [g.problem_id, g.problem, g.attempt, ...g.reflections.flatMap((r) => [r.reflection, r.retry, r.reason])],
    sorts: {order: {label: "step order", key: null},
      longest: {label: "longest reflection first", key: (g) => -Math.max(...reflectionLengths(g))},
      shortest: {label: "shortest reflection first", key: (g) => Math.min(...reflectionLengths(g))}},
  });
}

// ---- mining ---------------------------------------------------------------------------------------------------
function minedCard(p) {
  const drawn = [p.samples !== null && p.samples !== undefined ? `${p.samples} samples drawn` : null,
    p.first_failure_at ? `first failure at sample ${p.first_failure_at}` : null].filter(Boolean).join(", ");
  const children = [el("header", {}, el("span", {class: "id"}, p.id),
    el("span", {class: "badge wrong"}, `${p.failed.length} failed attempt${p.failed.length === 1 ? "" : "s"} kept`),
    drawn ? el("span", {class: "index"}, drawn) : null), turn("problem", "problem", null, p.problem, null)];
  p.failed.forEach((f, i) => children.push(turn("wrong", `failed attempt ${i + 1}`, tokens(f.tokens, null), f.text,
    verdictText(false, false, f.reason))));
  return el("article", {class: "card mined"}, children);
}

function drawMine(section, root) {
  root.append(el("p", {class: "meta"}, section.path), summaryTable(section.summary));
  filteredList(root, {
    items: section.problems, noun: "mined problems", makeList: () => cardList(minedCard),
    placeholder: "search problems, failed attempts and the verifier's reasons",
    filters: {all: "all", one: "one failure kept", several: "several kept"},
    matches: (p, key) => key === "one" ? p.failed.length === 1 : p.failed.length > 1,
    text: (p) => [p.id, p.problem, ...p.failed.flatMap((f) => [f.text, f.reason])],
  });
}

// ---- the page -------------------------------------------------------------------------------------------------
const DRAW = {eval: drawEval, compare: drawCompare, train: drawTrain, mine: drawMine};
const KIND = {eval: "eval", compare: "before / after", train: "training", mine: "mining"};

// A section is drawn the first time it is shown: a page of several large runs opens as fast as its first one.
const drawn = new Set();

function show(index) {
  const sections = document.querySelectorAll("section.run");
  if (!drawn.has(index)) {
    drawn.add(index);
    DRAW[DATA.sections[index].kind](DATA.sections[index], sections[index]);
  }
  sections.forEach((s, i) => { s.hidden = i !== index; });
  document.querySelectorAll("nav#tabs button").forEach((b, i) => b.classList.toggle("active", i === index));
}

function main() {
  const mainEl = document.getElementById("main");
  mainEl.replaceChildren();
  document.getElementById("created").textContent = `r3 ${DATA.version} · ${DATA.created}`;
  const tabs = document.getElementById("tabs");
  DATA.sections.forEach((section, i) => {
    mainEl.append(el("section", {class: `run ${section.kind}`, "data-kind": section.kind, "data-name": section.name,
      hidden: true}, el("h2", {}, section.name)));
    tabs.append(el("button", {type: "button", onclick: () => show(i)}, section.name,
      el("span", {class: "kind"}, KIND[section.kind])));
  });
  if (DATA.sections.length) show(0);
}

main();
