/* The results pages' charts (Chart.js, vendored in core/static/vendor). The numbers come from the page
   (a json_script block, no inline script: the CSP forbids it); the same numbers are in the table under
   each chart, for screen readers and for reading on a small screen. */
(function () {
  "use strict";
  var COLOURS = ["#1f5135", "#2563eb", "#b45309", "#9333ea"];

  function lineChart(canvas, data) {
    var datasets = [];
    data.series.forEach(function (s, i) {
      var colour = COLOURS[i % COLOURS.length];
      datasets.push({ label: s.label, data: s.current, borderColor: colour, backgroundColor: colour,
                      borderWidth: 2, pointRadius: 0, tension: 0.2 });
      datasets.push({ label: s.previousLabel, data: s.previous, borderColor: colour, backgroundColor: colour,
                      borderWidth: 1, borderDash: [5, 4], pointRadius: 0, tension: 0.2 });
    });
    return new window.Chart(canvas, {
      type: "line",
      data: { labels: data.labels, datasets: datasets },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        interaction: { mode: "index", intersect: false },
        scales: { x: { ticks: { maxTicksLimit: 6, maxRotation: 0 } }, y: { beginAtZero: true } },
        plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } }
      }
    });
  }

  function barChart(canvas, data) {
    return new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [
          { label: data.label, data: data.current, backgroundColor: COLOURS[0] },
          { label: data.previousLabel, data: data.previous, backgroundColor: "#9ca3af" }
        ]
      },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false, indexAxis: "y",
        scales: { x: { beginAtZero: true } },
        plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } }
      }
    });
  }

  function draw() {
    var source = document.getElementById("report-charts");
    if (!source || !window.Chart) { return; }
    var data = JSON.parse(source.textContent);
    var daily = document.getElementById("chart-daily");
    if (daily) { lineChart(daily, data.daily); daily.dataset.drawn = "1"; }
    var children = document.getElementById("chart-children");
    if (children && data.children.labels.length) { barChart(children, data.children); children.dataset.drawn = "1"; }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
