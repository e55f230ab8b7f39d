/* reports.js - the reports page: draws each chart from the table beside it with Chart.js
   (the table, the chart and the CSV are the same figures), and fills the time zone field
   with the browser's zone on a first visit. No inline code: the page's CSP forbids it. */
(function () {
  'use strict';
  var zone = document.getElementById('r-zone');
  if (zone && zone.getAttribute('data-auto') === '1' && window.Intl) {
    try {
      var z = Intl.DateTimeFormat().resolvedOptions().timeZone;
      if (z) zone.value = z;
    } catch (e) { /* keep UTC */ }
  }
  if (typeof window.Chart === 'undefined') return;
  var colours = ['#0a4fb3', '#c2410c', '#15803d', '#7e22ce', '#b91c1c', '#0e7490', '#a16207',
                 '#4a5260', '#be185d', '#166534'];
  function value(td) {
    var v = td.getAttribute('data-v');
    if (v === null || v === '') return null;
    var scale = Number(td.getAttribute('data-scale') || '1');
    return Number(v) / scale;
  }
  var figures = document.querySelectorAll('figure.chart[data-type]');
  Array.prototype.forEach.call(figures, function (fig) {
    var canvas = fig.querySelector('canvas');
    var table = fig.querySelector('table');
    if (!canvas || !table) return;
    var type = fig.getAttribute('data-type');
    var series = fig.getAttribute('data-series').split(',').map(Number);
    var heads = table.querySelectorAll('thead th');
    var rows = table.querySelectorAll('tbody tr');
    var labels = [];
    var sets = series.map(function (col, i) {
      return { label: heads[col].textContent, data: [],
               backgroundColor: type === 'doughnut' ? colours : colours[i % colours.length],
               borderColor: type === 'doughnut' ? '#fff' : colours[i % colours.length] };
    });
    Array.prototype.forEach.call(rows, function (tr) {
      var cells = tr.children;
      labels.push(cells[0].textContent);
      series.forEach(function (col, i) { sets[i].data.push(value(cells[col])); });
    });
    canvas.chart = new window.Chart(canvas, {
      type: type,
      data: { labels: labels, datasets: sets },
      options: { responsive: true, maintainAspectRatio: false, animation: false,
                 plugins: { legend: { position: 'bottom' } } }
    });
    fig.setAttribute('data-drawn', '1');
  });
})();
