// bo.js - the back office's only script (served from /dashboard/static/bo.js; no inline
// scripts, so the CSP needs no 'unsafe-inline'). Progressive enhancement: every page works
// without it. It sends the browser's time-zone offset for date filters, and listens to the
// live stream (server-sent events whose ids are journal sequence numbers; the browser
// resumes with Last-Event-ID): on the list a "N new" banner instead of rows jumping, and
// status cells updated in place; on a payment page the summary, actions and timeline are
// refreshed when the payment changes, whoever changed it.
'use strict';
(function () {
  var tz = -new Date().getTimezoneOffset();
  document.cookie = 'kassa_tz=' + tz + '; path=/dashboard; SameSite=Strict';
  var tzField = document.getElementById('f-tz');
  if (tzField && location.search.indexOf('tz=') < 0) tzField.value = String(tz);

  var list = document.getElementById('list');
  var pay = document.getElementById('payment');
  var host = list || pay;
  if (!host || !window.EventSource) return;
  var note = document.getElementById('live-note');
  var es = new EventSource(host.getAttribute('data-live'));

  if (list) {
    var pending = 0;
    var banner = document.getElementById('new-banner');
    var button = document.getElementById('new-show');
    es.addEventListener('op', function (e) {
      var d = JSON.parse(e.data);
      var row = list.querySelector('tr[data-id="' + d.payment + '"]');
      if (row) {
        var cell = row.querySelector('[data-col=status] span');
        if (cell && d.status) {
          cell.textContent = d.status_label;
          cell.className = 'st st-' + d.status;
          row.classList.add('changed');
        }
      } else if (d.op === 'create') {
        pending++;
        button.textContent = button.getAttribute('data-label').replace('%d', String(pending));
        banner.hidden = false;
      }
    });
    button.addEventListener('click', function () {
      var top = list.querySelector('tbody tr[data-seq]');
      var after = top ? top.getAttribute('data-seq') : '0';
      fetch(list.getAttribute('data-rows') + '&after_seq=' + after, { credentials: 'same-origin' })
        .then(function (r) { return r.text(); })
        .then(function (html) {
          var t = document.createElement('template');
          t.innerHTML = html;
          var body = document.getElementById('rows');
          var empty = body.querySelector('tr.empty');
          if (empty) empty.remove();
          var n = t.content.querySelectorAll('tr').length;
          body.insertBefore(t.content, body.firstChild);
          pending = 0;
          banner.hidden = true;
          if (note) note.textContent = button.textContent;
          var first = body.querySelector('tr a');
          if (first && n > 0) first.focus();
        });
    });
  }

  if (pay) {
    var timer = null;
    var refresh = function () {
      timer = null;
      fetch(location.pathname, { credentials: 'same-origin' })
        .then(function (r) { return r.text(); })
        .then(function (html) {
          var doc = new DOMParser().parseFromString(html, 'text/html');
          ['summary', 'timeline', 'actions'].forEach(function (id) {
            var fresh = doc.getElementById(id);
            var old = document.getElementById(id);
            if (!fresh || !old) return;
            if (id === 'actions' && old.contains(document.activeElement)) return;
            old.replaceWith(document.importNode(fresh, true));
          });
          if (note) note.textContent = note.getAttribute('data-label');
        });
    };
    es.addEventListener('op', function () {
      if (timer === null) timer = setTimeout(refresh, 150);
    });
  }
})();
