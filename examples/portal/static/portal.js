// Live status: follow the document's status (server-sent events, polling
// only without EventSource) and reload the page when it changes (a new
// step, a result). No framework, no external assets.
(function () {
  // Times in the viewer's own zone, zone named; the server's UTC text stays
  // if this fails.
  var times = document.querySelectorAll('time[datetime]');
  for (var i = 0; i < times.length; i++) {
    var d = new Date(times[i].dateTime);
    if (isNaN(d)) continue;
    try {
      times[i].textContent = d.toLocaleString(document.documentElement.lang === 'hi' ? 'hi-IN' : undefined,
        {day: 'numeric', month: 'short', year: 'numeric', hour: 'numeric', minute: '2-digit', timeZoneName: 'short'});
    } catch (e) {}
  }
  var id = document.body.dataset.doc;
  if (!id) return;
  var shown = document.body.dataset.status;
  // Follow the status with server-sent events from data-watch (the
  // portal's /doc/{id}/watch here; a gateway session's watchUrl works the
  // same way): the page flips the moment the callback lands. Polling only
  // where EventSource is missing.
  var watch = document.body.dataset.watch;
  // window.ssWatch says which way the page follows (the tests read it).
  if (watch && window.EventSource) {
    var es = new EventSource(watch);
    window.ssWatch = 'sse';
    es.addEventListener('status', function (ev) {
      var s;
      try { s = JSON.parse(ev.data); } catch (e) { return; }
      if (s.status !== shown) { es.close(); location.reload(); }
    });
    // On an error EventSource reconnects by itself (and gets the current
    // status at once); nothing to do here.
  } else {
    window.ssWatch = 'poll';
    var poll = function () {
      fetch('/doc/' + id + '/status', {cache: 'no-store'}).then(function (r) { return r.json(); }).then(function (s) {
        if (s.status !== shown) { location.reload(); return; }
        setTimeout(poll, 1000);
      }).catch(function () { setTimeout(poll, 3000); });
    };
    setTimeout(poll, 1000);
  }
  // A click on a securesign:// link that leads nowhere: no app handles the
  // scheme. Say so after a while (the page reloads as soon as anything
  // happens, which cancels this).
  document.addEventListener('click', function (ev) {
    var a = ev.target.closest && ev.target.closest('a[href^="securesign:"]');
    if (!a) return;
    setTimeout(function () {
      var h = document.getElementById('not-running');
      if (h) h.hidden = false;
    }, 20000);
  });
})();
