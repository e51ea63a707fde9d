// leadpersona dashboard: charts from the embedded data, and (live page only) one lead's persona.
(function () {
  "use strict";

  const data = JSON.parse(document.getElementById("dashboard-data").textContent);
  const UNKNOWN = "(unknown)";
  const COMPANY_ORDER = ["Startup", "Mid Market", "Multi National Company", UNKNOWN];
  const EMBED = { actions: false, renderer: "svg", mode: "vega-lite" };

  function showChartError(id, error) {
    const target = document.getElementById(id);
    target.textContent = "Chart unavailable: " + (error && error.message ? error.message : error);
    target.className = "error";
  }

  function draw(id, spec) {
    if (!document.getElementById(id)) return;
    vegaEmbed("#" + id, spec, EMBED).catch(function (error) { showChartError(id, error); });
  }

  function matrixChart() {
    const rows = data.stats.matrix.map(function (row) {
      return {
        academic_field: row.academic_field === null ? UNKNOWN : row.academic_field,
        company_type: row.company_type === null ? UNKNOWN : row.company_type,
        count: row.count,
      };
    });
    const max = rows.reduce(function (m, row) { return Math.max(m, row.count); }, 0);
    const present = new Set(rows.map(function (row) { return row.company_type; }));
    const columns = COMPANY_ORDER.filter(function (c) { return present.has(c); })
      .concat(Array.from(present).filter(function (c) { return COMPANY_ORDER.indexOf(c) < 0; }).sort());
    return {
      data: { values: rows },
      width: { step: 150 },
      height: { step: 22 },
      encoding: {
        x: { field: "company_type", type: "nominal", sort: columns, title: "company type",
             axis: { labelAngle: 0, orient: "top" } },
        y: { field: "academic_field", type: "nominal", title: "academic field",
             sort: { op: "sum", field: "count", order: "descending" } },
      },
      layer: [
        {
          mark: { type: "rect", stroke: "#ffffff" },
          encoding: {
            color: { field: "count", type: "quantitative", title: "personas",
                     scale: { scheme: "blues" } },
            tooltip: [
              { field: "academic_field", title: "academic field" },
              { field: "company_type", title: "company type" },
              { field: "count", title: "personas" },
            ],
          },
        },
        {
          mark: { type: "text", fontSize: 11 },
          encoding: {
            text: { field: "count", type: "quantitative" },
            color: { condition: { test: "datum.count > " + max / 2, value: "#ffffff" },
                     value: "#1f2933" },
          },
        },
      ],
    };
  }

  function barChart(values, label, title) {
    return {
      data: { values: values },
      width: 320,
      height: { step: 18 },
      mark: { type: "bar", color: "#2f6fb0", tooltip: true },
      encoding: {
        y: { field: "name", type: "nominal", sort: "-x", title: label },
        x: { field: "count", type: "quantitative", title: title,
             axis: { tickMinStep: 1, format: "d" } },
      },
    };
  }

  function entries(object, limit) {
    return Object.keys(object)
      .map(function (name) { return { name: name, count: object[name] }; })
      .sort(function (a, b) { return b.count - a.count || (a.name < b.name ? -1 : 1); })
      .slice(0, limit);
  }

  function revenueChart() {
    const rows = data.sales.revenue.map(function (row) {
      return {
        month: row.month,
        persona: row.academic_field === null ? UNKNOWN : row.academic_field,
        company_type: row.company_type === null ? UNKNOWN : row.company_type,
        currency: row.currency,
        revenue: Number(row.revenue),
        orders: row.orders,
      };
    });
    return {
      data: { values: rows },
      width: 640,
      height: 260,
      mark: { type: "bar", tooltip: true },
      encoding: {
        x: { field: "month", type: "ordinal", title: "month", axis: { labelAngle: 0 } },
        y: { aggregate: "sum", field: "revenue", type: "quantitative", title: "completed revenue" },
        color: { field: "persona", type: "nominal", title: "academic field",
                 sort: { op: "sum", field: "revenue", order: "descending" } },
        tooltip: [
          { field: "month" }, { field: "persona", title: "academic field" },
          { field: "company_type", title: "company type" }, { field: "currency" },
          { field: "revenue", format: ",.2f" }, { field: "orders" },
        ],
      },
    };
  }

  draw("chart-matrix", matrixChart());
  if (data.sales && data.sales.revenue.length) draw("chart-revenue", revenueChart());
  draw("chart-states", barChart(entries(data.stats.enrichment_states, 20), "state", "leads"));
  if (data.mapping) {
    draw("chart-labels", barChart(entries(data.mapping.label_distribution, 15),
      "academic field (top 15)", "fields of study in the CSV"));
  }

  // ---- live page: one lead's persona, and editing a feature through PATCH ----
  const searchForm = document.getElementById("lead-search");
  if (!searchForm) return;
  const message = document.getElementById("lead-message");
  const result = document.getElementById("lead-result");
  const tbody = document.querySelector("#lead-features tbody");
  const names = document.getElementById("feature-names");
  let currentLead = null;

  function say(text, kind) {
    message.textContent = text;
    message.className = kind;
  }

  function describe(value) {
    return typeof value === "string" ? value : JSON.stringify(value);
  }

  function detail(body, status) {
    if (body && typeof body.detail === "string") return body.detail;
    if (body && Array.isArray(body.detail)) {
      return body.detail.map(function (item) { return item.msg; }).join("; ");
    }
    return "HTTP " + status;
  }

  async function call(method, path, body) {
    const headers = { Accept: "application/json" };
    const init = { method: method, headers: headers };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
      const token = document.getElementById("api-token");
      if (token && token.value) headers.Authorization = "Bearer " + token.value;
    }
    const response = await fetch(path, init);
    let payload = null;
    try { payload = await response.json(); } catch (ignored) { payload = null; }
    return { ok: response.ok, status: response.status, body: payload };
  }

  function showPersona(persona) {
    currentLead = persona.lead_id;
    tbody.replaceChildren();
    const known = new Set(Array.from(names.options).map(function (o) { return o.value; }));
    Object.keys(persona.features).sort().forEach(function (name) {
      const row = tbody.insertRow();
      row.dataset.feature = name;
      row.insertCell().textContent = name;
      const value = persona.features[name];
      row.insertCell().textContent = value === null ? "—" : describe(value);
      const origin = persona.provenance[name];
      let source = origin ? origin.source : "";
      if (origin && origin.confidence !== null && origin.confidence !== undefined) {
        source += " (" + origin.confidence.toFixed(2) + ")";
      }
      row.insertCell().textContent = source;
      if (!known.has(name)) {
        const option = document.createElement("option");
        option.value = name;
        names.appendChild(option);
        known.add(name);
      }
    });
    const meta = ["lead " + persona.lead_id, "status " + persona.status];
    if (persona.field_of_study) meta.push("field of study “" + persona.field_of_study + "”");
    if (persona.updated_at) meta.push("edited " + persona.updated_at);
    else if (persona.computed_at) meta.push("computed " + persona.computed_at);
    document.getElementById("lead-meta").textContent = meta.join(" · ");
    result.hidden = false;
  }

  searchForm.addEventListener("submit", async function (event) {
    event.preventDefault();
    const id = document.getElementById("lead-id").value.trim();
    if (!id) return;
    say("Loading…", "");
    const answer = await call("GET", "leads/" + encodeURIComponent(id) + "/persona");
    if (answer.ok) {
      showPersona(answer.body);
      say("", "");
    } else {
      result.hidden = true;
      currentLead = null;
      say(answer.status === 404 ? "No persona for lead " + id + "." : detail(answer.body, answer.status), "error");
    }
  });

  function parseValue(text) {
    // Like the command line's NAME=VALUE: a JSON scalar when it is one, otherwise text.
    try {
      const parsed = JSON.parse(text);
      if (["string", "number", "boolean"].indexOf(typeof parsed) >= 0) return parsed;
    } catch (ignored) { /* plain text */ }
    return text;
  }

  async function patch(name, value) {
    if (!currentLead) return;
    const features = {};
    features[name] = value;
    const answer = await call("PATCH", "leads/" + encodeURIComponent(currentLead) + "/persona",
      { features: features });
    if (answer.ok) {
      showPersona(answer.body);
      say(value === null ? "Removed " + name + "." : "Saved " + name + " = " + describe(value) + ".", "ok");
    } else if (answer.status === 401) {
      say("The API requires a valid token for changes.", "error");
    } else {
      say(detail(answer.body, answer.status), "error");
    }
  }

  document.getElementById("lead-edit").addEventListener("submit", function (event) {
    event.preventDefault();
    const name = document.getElementById("feature-name").value.trim();
    const raw = document.getElementById("feature-value").value.trim();
    if (!raw) {
      say("Give a value, or use “Remove feature”.", "error");
      return;
    }
    patch(name, parseValue(raw));
  });

  document.getElementById("feature-remove").addEventListener("click", function () {
    const name = document.getElementById("feature-name").value.trim();
    if (!name) {
      say("Name the feature to remove.", "error");
      return;
    }
    patch(name, null);
  });
})();
