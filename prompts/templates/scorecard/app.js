// The scorecard view: renders show_scorecard's structured result and re-scores what-ifs through
// the host. It talks to the host only through the MCP Apps bridge (the App class of
// @modelcontextprotocol/ext-apps, bundled into the page at build time): no network, no eval.
// Every string from the server is put in the page with textContent, never parsed as HTML.

import {
  App,
  PostMessageTransport,
  applyDocumentTheme,
  applyHostStyleVariables,
} from "@modelcontextprotocol/ext-apps";

const TOOL = "show_scorecard";
const TIER_NAMES = { 1: "Tier 1", 2: "Tier 2", 3: "Tier 3" };
const SCHEME_NAMES = {
  tiered: "Tiered (revenue first)",
  equal: "Equal (1/13 each)",
  custom: "Custom (this call)",
};
const KIND_HINTS = {
  fraction: "a fraction from 0 to 1 (0.05 = 5%)",
  growth: "a relative change (0.2 = +20%, may be negative)",
  count: "a whole number",
  money: "an amount of money",
  seconds: "seconds",
  per_week: "per week",
  ratio: "a ratio",
};

const state = { app: null, original: null, current: null, busy: false };

// ---------------------------------------------------------------------------------------------
// small DOM helpers (text only)

function byId(id) {
  return document.getElementById(id);
}

function el(tag, options = {}, children = []) {
  const node = document.createElement(tag);
  if (options.className) node.className = options.className;
  if (options.text !== undefined && options.text !== null) node.textContent = String(options.text);
  for (const [name, value] of Object.entries(options.attrs || {})) {
    node.setAttribute(name, String(value));
  }
  for (const child of children) {
    if (child) node.append(child);
  }
  return node;
}

function clear(node) {
  node.replaceChildren();
  return node;
}

// ---------------------------------------------------------------------------------------------
// number formatting (fixed, locale-independent: the numbers must match the text the model reads)

function fixed(value, digits = 1) {
  return Number(value).toFixed(digits);
}

function signed(value, digits = 1) {
  const text = fixed(Math.abs(value), digits);
  if (Number(text) === 0) return fixed(0, digits);
  return (value > 0 ? "+" : "\u2212") + text;
}

function percentOfOne(weight) {
  const points = weight * 100;
  const whole = Math.abs(points - Math.round(points)) < 1e-6;
  return `${whole ? Math.round(points) : fixed(points, 1)}%`;
}

function compact(value) {
  const size = Math.abs(value);
  for (const [threshold, suffix] of [[1e9, "B"], [1e6, "M"], [1e3, "K"]]) {
    if (size >= threshold) return `${fixed(value / threshold, 1)}${suffix}`;
  }
  return Number.isInteger(value) ? String(value) : fixed(value, 2);
}

function metricValue(value, kind, currency) {
  if (value === null || value === undefined) return "no data";
  if (typeof value !== "number") return String(value);
  switch (kind) {
    case "fraction":
      return `${fixed(value * 100, value > 0 && value < 0.01 ? 2 : 1)}%`;
    case "growth":
      return `${signed(value * 100, 1)}%`;
    case "money":
      return `${compact(value)} ${currency}`;
    case "count":
      return compact(value);
    case "seconds":
      return `${fixed(value, 1)} s`;
    case "per_week":
      return `${fixed(value, 1)} a week`;
    default:
      return fixed(value, 3);
  }
}

function humanise(name) {
  const text = String(name).replace(/_/g, " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function kpiScore(score) {
  return score === null || score === undefined ? null : score * 100;
}

// ---------------------------------------------------------------------------------------------
// rendering

function renderHeader(card) {
  const result = card.score;
  byId("creator").textContent = card.creator_id || "Creator";
  const meta = [];
  if (typeof card.metrics.category === "string") meta.push(card.metrics.category);
  if (typeof card.metrics.follower_count === "number") {
    meta.push(`${compact(card.metrics.follower_count)} followers`);
  }
  meta.push(`model ${card.model_version}`);
  byId("creator-meta").textContent = meta.join(" \u00b7 ");
  byId("overall").textContent = fixed(result.overall_score, 1);
  const band = byId("band");
  band.textContent = result.band;
  band.dataset.band = result.band;
  byId("coverage").textContent =
    `${SCHEME_NAMES[result.weighting] || result.weighting} weighting \u00b7 ` +
    `${percentOfOne(result.coverage)} of the weight had data ` +
    `(${percentOfOne(result.revenue_coverage)} of the revenue drivers)`;

  const delta = byId("delta");
  if (state.original && card !== state.original) {
    const changed = changedMetrics(state.original.metrics, card.metrics);
    const moves = changed.map(
      ({ name, before, after }) => `${name} ${before ?? "no data"} \u2192 ${after ?? "no data"}`,
    );
    delta.textContent =
      `What-if (${moves.join("; ") || "no change"}): overall ` +
      `${fixed(state.original.score.overall_score, 1)} \u2192 ${fixed(result.overall_score, 1)} ` +
      `(${signed(result.overall_score - state.original.score.overall_score, 1)} points)`;
    delta.hidden = false;
  } else {
    delta.textContent = "";
    delta.hidden = true;
  }

  const warnings = clear(byId("warnings"));
  for (const warning of result.warnings.slice(0, 4)) {
    warnings.append(el("li", { text: warning.message }));
  }
}

function changedMetrics(before, after) {
  const names = new Set([...Object.keys(before), ...Object.keys(after)]);
  const changes = [];
  for (const name of names) {
    if (before[name] !== after[name]) {
      changes.push({ name, before: before[name], after: after[name] });
    }
  }
  return changes.sort((a, b) => (a.name < b.name ? -1 : 1));
}

function renderKpi(kpi) {
  const score = kpiScore(kpi.score);
  const bench = kpiScore(kpi.benchmark_score);
  const row = el("li", { className: "kpi", attrs: { "data-kpi": kpi.kpi } });
  const number = el("span", { className: "kpi-num" });
  if (score === null) {
    number.append(el("span", { className: "unscored-text", text: "not scored" }));
  } else {
    number.append(el("strong", { text: fixed(score, 0) }));
  }
  number.append(el("span", { className: "note", text: ` / benchmark ${fixed(bench, 0)}` }));
  row.append(
    el("div", { className: "kpi-line" }, [el("span", { className: "kpi-name", text: kpi.label }), number]),
  );

  const bar = el("div", { className: "bar" });
  const weightText = `weight ${percentOfOne(kpi.weight)}`;
  if (score === null) {
    bar.classList.add("unscored");
    bar.setAttribute("role", "img");
    bar.setAttribute(
      "aria-label",
      `${kpi.label}: not scored (no data); benchmark ${fixed(bench, 0)} of 100; ${weightText}`,
    );
  } else {
    const below = kpi.score < kpi.benchmark_score;
    const fill = el("div", { className: below ? "fill below" : "fill" });
    fill.style.width = `${Math.max(0, Math.min(100, score))}%`;
    bar.append(fill);
    bar.setAttribute("role", "meter");
    bar.setAttribute("aria-label", kpi.label);
    bar.setAttribute("aria-valuemin", "0");
    bar.setAttribute("aria-valuemax", "100");
    bar.setAttribute("aria-valuenow", fixed(score, 1));
    bar.setAttribute(
      "aria-valuetext",
      `${fixed(score, 0)} of 100, ${below ? "below" : "at or above"} the benchmark of ` +
        `${fixed(bench, 0)}; ${weightText}`,
    );
  }
  const mark = el("div", { className: "mark", attrs: { "data-benchmark": fixed(bench, 1) } });
  mark.style.left = `${Math.max(0, Math.min(100, bench))}%`;
  bar.append(mark);
  const points = score === null ? "no data" : `${fixed(kpi.contribution, 1)} pts`;
  const sub = el("span", { className: "kpi-sub note", text: `${weightText} \u00b7 ${points}` });
  row.append(el("div", { className: "kpi-bar-line" }, [bar, sub]));
  return row;
}

function renderTiers(card) {
  const holder = clear(byId("tiers"));
  for (const tier of card.score.tiers) {
    const section = el("div", { className: "tier", attrs: { "data-tier": tier.tier } });
    const titleId = `tier-${tier.tier}-title`;
    section.append(
      el("div", { className: "tier-head" }, [
        el("h3", { text: `${TIER_NAMES[tier.tier] || `Tier ${tier.tier}`} \u00b7 ${humanise(tier.label)}`, attrs: { id: titleId } }),
        el("span", {
          className: "note",
          text: `${percentOfOne(tier.weight)} of the weight \u00b7 ${fixed(tier.points, 1)} points`,
        }),
      ]),
    );
    const list = el("ul", { className: "kpis", attrs: { "aria-labelledby": titleId } });
    for (const kpi of card.score.kpis) {
      if (kpi.tier === tier.tier) list.append(renderKpi(kpi));
    }
    section.append(list);
    holder.append(section);
  }
}

function renderBottlenecks(card) {
  const list = clear(byId("bottlenecks"));
  const whatIf = new Map(card.what_if.each.map((scenario) => [scenario.kpis[0], scenario]));
  for (const item of card.bottlenecks) {
    const li = el("li", { attrs: { "data-kpi": item.kpi } });
    li.append(
      el("div", { className: "item-head" }, [
        el("strong", { text: item.label }),
        el("span", { className: "pill loss", text: `${signed(-item.impact, 1)} points` }),
      ]),
    );
    for (const metric of item.metrics.filter((m) => m.below_benchmark).slice(0, 2)) {
      const direction = metric.direction === "lower" ? " (lower is better)" : "";
      li.append(el("p", { text: `${metric.text}${direction}` }));
    }
    const scenario = whatIf.get(item.kpi);
    if (scenario) {
      li.append(
        el("p", {
          className: "note",
          text: `At the benchmark: ${fixed(scenario.overall_score, 1)} overall (${signed(scenario.uplift, 1)} points)`,
        }),
      );
    }
    list.append(li);
  }
  if (!card.bottlenecks.length) list.append(el("li", { text: "No KPI with data is below its benchmark." }));
  const together = card.what_if.together;
  const more = [];
  if (card.bottlenecks_total > card.bottlenecks.length) {
    more.push(`${card.bottlenecks_total} KPIs are below their benchmark in all.`);
  }
  if (together && card.bottlenecks.length > 1) {
    const all = card.bottlenecks.length === 2 ? "Both" : `All ${card.bottlenecks.length}`;
    more.push(
      `${all} at their benchmark: ${fixed(together.overall_score, 1)} ` +
        `(${signed(together.uplift, 1)} points).`,
    );
  }
  byId("bottlenecks-more").textContent = more.join(" ");
}

function renderRecommendations(card) {
  const list = clear(byId("recommendations"));
  for (const item of card.recommendations) {
    const uplift = item.expected_uplift;
    const li = el("li", { attrs: { "data-recommendation": item.id } });
    li.append(
      el("div", { className: "item-head" }, [
        el("strong", { text: item.title }),
        el("span", { className: "pill gain", text: `${signed(uplift.mid, 1)} points` }),
      ]),
    );
    li.append(
      el("p", {
        className: "note",
        text:
          `Expected ${signed(uplift.low, 1)} to ${signed(uplift.high, 1)} points \u00b7 ` +
          `effort ${item.effort} \u00b7 about ${item.time_to_effect_days} days \u00b7 ` +
          `moves ${item.target_metric}`,
      }),
    );
    const details = el("details", {}, [el("summary", { text: "Why and how" }), el("p", { text: item.text })]);
    if (item.steps.length) {
      details.append(el("ol", {}, item.steps.map((step) => el("li", { text: step }))));
    }
    li.append(details);
    list.append(li);
  }
  if (!card.recommendations.length) {
    list.append(el("li", { text: "No catalogued intervention applies to these metrics." }));
  }
  byId("recommendations-more").textContent =
    card.recommendations_total > card.recommendations.length
      ? `${card.recommendations_total} interventions apply in all; ask recommend for more.`
      : "";
}

function renderSchemes(card) {
  const scores = clear(byId("scheme-scores"));
  for (const scheme of card.schemes) {
    const used = scheme.name === card.score.weighting;
    const box = el("div", { className: used ? "scheme used" : "scheme", attrs: { "data-scheme": scheme.name } });
    box.append(el("div", { className: "scheme-name", text: SCHEME_NAMES[scheme.name] || scheme.name }));
    box.append(el("div", { className: "scheme-score", text: fixed(scheme.overall_score, 1) }));
    box.append(el("div", { className: "note", text: used ? `${scheme.band} \u00b7 shown above` : scheme.band }));
    scores.append(box);
  }

  const head = clear(byId("weights-head"));
  head.append(el("th", { text: "KPI", attrs: { scope: "col" } }));
  for (const scheme of card.schemes) {
    head.append(el("th", { className: "weight", text: humanise(scheme.name), attrs: { scope: "col" } }));
  }
  const largest = Math.max(...card.schemes.flatMap((scheme) => Object.values(scheme.weights)));
  const body = clear(byId("weights-body"));
  for (const tier of card.score.tiers) {
    const tierRow = el("tr", { className: "tier-row" });
    tierRow.append(
      el("th", {
        text: `${TIER_NAMES[tier.tier] || `Tier ${tier.tier}`}: ${humanise(tier.label)}`,
        attrs: { scope: "rowgroup" },
      }),
    );
    for (const scheme of card.schemes) {
      const total = card.score.kpis
        .filter((kpi) => kpi.tier === tier.tier)
        .reduce((sum, kpi) => sum + (scheme.weights[kpi.kpi] || 0), 0);
      tierRow.append(el("th", { className: "weight", text: percentOfOne(total) }));
    }
    body.append(tierRow);
    for (const kpi of card.score.kpis.filter((item) => item.tier === tier.tier)) {
      const row = el("tr", { attrs: { "data-kpi": kpi.kpi } });
      row.append(el("th", { text: kpi.label, attrs: { scope: "row" } }));
      for (const scheme of card.schemes) {
        const weight = scheme.weights[kpi.kpi] || 0;
        const bar = el("span", { className: "weight-bar", attrs: { "aria-hidden": "true" } });
        bar.style.width = `${largest > 0 ? Math.round((weight / largest) * 40) : 0}px`;
        row.append(
          el("td", { className: "weight" }, [
            el("span", { className: "weight-cell" }, [bar, el("span", { text: percentOfOne(weight) })]),
          ]),
        );
      }
      body.append(row);
    }
  }
}

function componentsByMetric(card) {
  const found = new Map();
  for (const kpi of card.score.kpis) {
    for (const component of kpi.components) found.set(component.metric, component);
  }
  return found;
}

function renderWhatIf(card) {
  const select = byId("whatif-metric");
  const keep = select.value;
  clear(select);
  const labels = new Map(card.score.kpis.map((kpi) => [kpi.kpi, kpi.label]));
  const components = componentsByMetric(card);
  const groups = new Map();
  for (const item of card.editable_metrics) {
    if (!groups.has(item.kpi)) {
      const group = el("optgroup", { attrs: { label: labels.get(item.kpi) || item.kpi } });
      groups.set(item.kpi, group);
      select.append(group);
    }
    const given = card.metrics[item.metric];
    const used = components.get(item.metric);
    const value = typeof given === "number" ? given : used ? used.value : null;
    const text = `${item.metric} (${metricValue(value, item.kind, card.score.currency)})`;
    groups.get(item.kpi).append(el("option", { text, attrs: { value: item.metric } }));
  }
  const first = card.bottlenecks[0];
  const suggested = first ? first.metrics.find((metric) => metric.below_benchmark) : null;
  const options = [...select.options].map((option) => option.value);
  if (keep && options.includes(keep)) select.value = keep;
  else if (suggested && options.includes(suggested.metric)) select.value = suggested.metric;
  updateHint(true);
  byId("whatif-reset").disabled = card === state.original;
}

function updateHint(prefill) {
  const card = state.current;
  const metric = byId("whatif-metric").value;
  const rule = card.editable_metrics.find((item) => item.metric === metric);
  const component = componentsByMetric(card).get(metric);
  const input = byId("whatif-value");
  const given = card.metrics[metric];
  const current = typeof given === "number" ? given : component ? component.value : null;
  if (prefill) input.value = current === null || current === undefined ? "" : String(current);
  if (rule) {
    input.min = String(rule.low);
    input.max = String(rule.high);
    input.step = rule.kind === "count" ? "1" : "any";
  }
  const parts = [];
  const currency = card.score.currency;
  const kind = rule ? rule.kind : "ratio";
  parts.push(`Now ${metricValue(current, kind, currency)}${component && component.derived ? " (derived)" : ""}`);
  if (component) parts.push(`benchmark ${metricValue(component.benchmark, kind, currency)}`);
  if (component) parts.push(component.direction === "lower" ? "lower is better" : "higher is better");
  if (rule && rule.kind === "fraction") parts.push(`enter ${KIND_HINTS.fraction}`);
  else if (rule) {
    parts.push(`enter ${KIND_HINTS[rule.kind] || rule.kind}, ${compact(rule.low)} to ${compact(rule.high)}`);
  }
  byId("whatif-hint").textContent = parts.join(" \u00b7 ");
}

function render(card) {
  state.current = card;
  byId("waiting").hidden = true;
  byId("error").hidden = true;
  byId("content").hidden = false;
  renderHeader(card);
  renderTiers(card);
  renderBottlenecks(card);
  renderRecommendations(card);
  renderSchemes(card);
  renderWhatIf(card);
  byId("footer").textContent =
    `Scores are deterministic: scoring model ${card.model_version}; ` +
    "benchmarks are for a creator of this size.";
  byId("scorecard").setAttribute("aria-busy", "false");
  document.body.dataset.state = "ready";
}

function showError(message) {
  const box = byId("error");
  box.textContent = message;
  box.hidden = false;
  byId("waiting").hidden = true;
  byId("scorecard").setAttribute("aria-busy", "false");
  document.body.dataset.state = "error";
}

function resultText(result) {
  return (result.content || [])
    .filter((block) => block.type === "text")
    .map((block) => block.text)
    .join("\n");
}

function isScorecard(value) {
  return Boolean(value && value.score && Array.isArray(value.score.kpis) && value.metrics);
}

// The whole scorecard travels in the result's _meta (hosts hand it to the view, not to the
// model); the structured content is the compact answer a model reads.
const CARD_META = "creator-kpi/scorecard";

function cardOf(result) {
  const meta = result && result._meta;
  if (meta && isScorecard(meta[CARD_META])) return meta[CARD_META];
  const content = result && result.structuredContent;
  if (content && isScorecard(content.card)) return content.card;
  return isScorecard(content) ? content : null;
}

// ---------------------------------------------------------------------------------------------
// what-if: re-score through the host's tools/call bridge

function setStatus(message, kind = "info") {
  const status = byId("whatif-status");
  status.textContent = message;
  status.dataset.kind = kind;
}

function setBusy(busy) {
  state.busy = busy;
  byId("whatif-submit").disabled = busy;
  byId("whatif-reset").disabled = busy || state.current === state.original;
  byId("scorecard").setAttribute("aria-busy", busy ? "true" : "false");
  document.body.dataset.state = busy ? "busy" : "ready";
}

async function submitWhatIf() {
  if (state.busy || !state.current) return;
  const metric = byId("whatif-metric").value;
  const input = byId("whatif-value");
  const raw = input.value.trim();
  const value = Number(raw);
  if (raw === "" || !Number.isFinite(value)) {
    setStatus("Enter a number for the new value.", "error");
    input.focus();
    return;
  }
  const card = state.current;
  const before = card.score.overall_score;
  const request = {
    name: TOOL,
    arguments: {
      metrics: { ...card.metrics, [metric]: value },
      weighting: card.weighting,
      currency: card.score.currency,
    },
  };
  setBusy(true);
  setStatus(`Re-scoring with ${metric} = ${raw}\u2026`);
  try {
    const result = await state.app.callServerTool(request);
    const changed = result.isError ? null : cardOf(result);
    if (!changed) {
      setStatus(resultText(result) || "The server did not accept the change.", "error");
      return;
    }
    render(changed);
    const after = changed.score.overall_score;
    setStatus(
      `Re-scored: ${fixed(before, 1)} \u2192 ${fixed(after, 1)} (${signed(after - before, 1)} points).`,
    );
  } catch (error) {
    setStatus(`The host could not run ${TOOL}: ${error && error.message ? error.message : error}`, "error");
  } finally {
    setBusy(false);
  }
}

function resetWhatIf() {
  if (state.busy || !state.original) return;
  render(state.original);
  setStatus("Back to the original metrics.");
  byId("whatif-reset").disabled = true;
}

// ---------------------------------------------------------------------------------------------
// host connection

function applyHostContext(context) {
  if (!context) return;
  if (context.theme) applyDocumentTheme(context.theme);
  if (context.styles && context.styles.variables) applyHostStyleVariables(context.styles.variables);
}

async function main() {
  // No <form> submission: hosts sandbox the view, often without allow-forms.
  byId("whatif-submit").addEventListener("click", submitWhatIf);
  byId("whatif-value").addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      submitWhatIf();
    }
  });
  byId("whatif-reset").addEventListener("click", resetWhatIf);
  byId("whatif-metric").addEventListener("change", () => updateHint(true));

  const app = new App({ name: "creator-kpi-scorecard", version: "1.0.0" }, {});
  state.app = app;
  app.ontoolresult = (result) => {
    if (result.isError) {
      showError(resultText(result) || "The tool returned an error.");
      return;
    }
    const card = cardOf(result);
    if (!card) {
      showError(resultText(result) || "The tool result carried no scorecard.");
      return;
    }
    state.original = card;
    render(card);
    setStatus("");
  };
  app.ontoolcancelled = () => {
    if (!state.current) showError("The tool call was cancelled before it returned a scorecard.");
  };
  app.onhostcontextchanged = applyHostContext;
  try {
    await app.connect(new PostMessageTransport(window.parent, window.parent));
  } catch (error) {
    showError(
      "This view needs a host with MCP Apps support (it could not connect: " +
        `${error && error.message ? error.message : error}).`,
    );
    return;
  }
  applyHostContext(app.getHostContext());
}

main();
