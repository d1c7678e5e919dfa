// Charts of the sales and support pages (Chart.js 4, vendored). Each <canvas data-chart="kind"
// data-chart-source="id"> reads its figures from the <script type="application/json" id="id">
// that Django's json_script wrote; htmx swaps re-draw the charts they bring.
(function () {
  "use strict";
  const COLOURS = ["#6c757d", "#198754", "#0d6efd", "#ffc107", "#6f42c1", "#20c997"];
  const TIER_COLOURS = { A: "#198754", B: "#0d6efd", C: "#ffc107", D: "#6c757d" };
  const locale = document.documentElement.lang || "es";

  function money(currency) {
    const format = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });
    return (value) => `${format.format(value)} ${currency || ""}`.trim();
  }

  function compact(value) {
    return new Intl.NumberFormat(locale, { notation: "compact", maximumFractionDigits: 1 }).format(value);
  }

  const builders = {
    // Quota, won, commit and best case per rep: grouped bars.
    forecast(data) {
      const format = money(data.currency);
      return {
        type: "bar",
        data: {
          labels: data.labels,
          datasets: data.datasets.map((set, i) => ({
            label: set.label, data: set.data, backgroundColor: COLOURS[i % COLOURS.length], borderRadius: 3,
          })),
        },
        options: {
          maintainAspectRatio: false,
          scales: { y: { beginAtZero: true, ticks: { callback: compact } } },
          plugins: {
            legend: { position: "bottom" },
            tooltip: { callbacks: { label: (ctx) => `${ctx.dataset.label}: ${format(ctx.parsed.y)}` } },
          },
        },
      };
    },
    // Pareto: revenue bars (coloured by tier) and the cumulative % line on a second axis.
    pareto(data) {
      const format = money(data.currency);
      return {
        type: "bar",
        data: {
          labels: data.labels,
          datasets: [
            {
              type: "line", label: data.cumulative_label, data: data.cumulative, yAxisID: "share",
              borderColor: "#dc3545", backgroundColor: "#dc3545", pointRadius: 2, tension: 0.2,
            },
            {
              label: data.revenue_label, data: data.revenue, yAxisID: "revenue",
              backgroundColor: data.tiers.map((tier) => TIER_COLOURS[tier] || "#6c757d"),
            },
          ],
        },
        options: {
          maintainAspectRatio: false,
          scales: {
            x: { ticks: { display: data.labels.length <= 30, autoSkip: true, maxRotation: 60 } },
            revenue: { position: "left", beginAtZero: true, ticks: { callback: compact } },
            share: {
              position: "right", min: 0, max: 100, grid: { drawOnChartArea: false },
              ticks: { callback: (value) => `${value} %` },
            },
          },
          plugins: {
            legend: { position: "bottom" },
            tooltip: {
              callbacks: {
                label: (ctx) => ctx.dataset.yAxisID === "share"
                  ? `${ctx.dataset.label}: ${ctx.parsed.y} %`
                  : `${ctx.dataset.label}: ${format(ctx.parsed.y)}`,
              },
            },
          },
        },
      };
    },
    // Support: CSAT (1-5) and NPS (-100..100) by month, a line each on its own axis.
    "support-trend"(data) {
      const line = (label, values, axis, colour) => ({
        label: label, data: values, yAxisID: axis, borderColor: colour, backgroundColor: colour,
        spanGaps: true, tension: 0.2,
      });
      return {
        type: "line",
        data: {
          labels: data.labels,
          datasets: [
            line(data.csat_label, data.csat, "csat", "#0d6efd"),
            line(data.nps_label, data.nps, "nps", "#198754"),
          ],
        },
        options: {
          maintainAspectRatio: false,
          scales: {
            csat: { position: "left", min: 1, max: 5 },
            nps: { position: "right", min: -100, max: 100, grid: { drawOnChartArea: false } },
          },
          plugins: { legend: { position: "bottom" } },
        },
      };
    },
    // The stage funnel: horizontal bars, widest first.
    funnel(data) {
      return {
        type: "bar",
        data: {
          labels: data.labels,
          datasets: [{ label: data.label, data: data.data, backgroundColor: "#0d6efd", borderRadius: 3 }],
        },
        options: {
          indexAxis: "y",
          maintainAspectRatio: false,
          scales: { x: { beginAtZero: true, ticks: { precision: 0 } } },
          plugins: { legend: { display: false } },
        },
      };
    },
  };

  function draw(root) {
    if (typeof Chart === "undefined") { return; }
    root.querySelectorAll("canvas[data-chart]").forEach((canvas) => {
      const source = document.getElementById(canvas.dataset.chartSource);
      const build = builders[canvas.dataset.chart];
      if (!source || !build) { return; }
      const existing = Chart.getChart(canvas);
      if (existing) { existing.destroy(); }
      new Chart(canvas, build(JSON.parse(source.textContent)));
    });
  }

  document.addEventListener("DOMContentLoaded", () => draw(document));
  // After a swap the new canvases may sit anywhere (outerHTML swaps replace the target).
  document.addEventListener("htmx:afterSettle", () => draw(document));
})();
