import NIOCore

/// The status page (`GET /status` with `--status-page`): plain HTML and a script, no external asset, so it works
/// offline. It opens its own `chorus.v1` connection with chorus.js (`GET /chorus.js`, an ES module) to
/// `/status/live`, passing on the page's `?token=`, follows `ChannelName.status` and shows each report
/// (`StatusReport`) as it comes, once a second. Every figure is an element with a `data-stat` attribute named after
/// the report's field (its text formatted, its `data-value` the number), for tests and scrapers.
enum StatusPage {
    static let contentType = "text/html; charset=utf-8"

    /// The page, encoded once.
    static let body = ByteBuffer(string: Self.html)

    private static let html = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Chorus status</title>
        <link rel="icon" href="data:,">
        <style>
          :root { --ink: #1d2433; --muted: #6b7385; --line: #e3e6ee; --accent: #3d6ee8; --bad: #c4453c; }
          * { box-sizing: border-box; }
          body { margin: 0; font: 15px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink);
                 background: #f6f7fb; }
          header { display: flex; align-items: baseline; gap: 1rem; padding: 1rem 1.5rem; background: #fff;
                   border-bottom: 1px solid var(--line); }
          header h1 { margin: 0; font-size: 1.25rem; }
          #state { font-size: .85rem; color: var(--muted); }
          #state.connected::before { content: "● "; color: #2f9e55; }
          #state.disconnected::before, #state.failed::before,
          #state.connecting::before { content: "● "; color: var(--bad); }
          main { padding: 1.25rem 1.5rem; max-width: 1100px; }
          .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: .75rem; }
          .card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: .75rem 1rem; }
          .label { font-size: .8rem; color: var(--muted); text-transform: uppercase; letter-spacing: .03em; }
          .value { font-size: 1.6rem; font-weight: 600; font-variant-numeric: tabular-nums; }
          .hint { font-size: .75rem; color: var(--muted); }
          section { margin-top: 1.25rem; }
          h2 { font-size: 1rem; margin: 0 0 .5rem; }
          .panel { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: .75rem 1rem; }
          svg { width: 100%; height: 90px; display: block; }
          table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
          th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); }
          th { font-size: .8rem; color: var(--muted); font-weight: 500; }
          td.n, th.n { text-align: right; }
          footer { margin-top: 1rem; font-size: .8rem; color: var(--muted); }
        </style>
        </head>
        <body>
        <header><h1>Chorus status</h1><span id="state" class="connecting">connecting</span></header>
        <main>
          <div class="cards">
            <div class="card"><div class="label">Connections</div><div class="value" data-stat="connections">–</div>
              <div class="hint"><span data-stat="subscriptions">–</span> subscriptions</div></div>
            <div class="card"><div class="label">Channels</div><div class="value" data-stat="channels">–</div>
              <div class="hint">with a subscriber on this node</div></div>
            <div class="card"><div class="label">Deliveries / s</div>
              <div class="value" data-stat="deliveries_per_second">–</div>
              <div class="hint"><span data-stat="publishes_per_second">–</span> publishes / s</div></div>
            <div class="card"><div class="label">Buffer reuse</div><div class="value" data-stat="buffer_reuse">–</div>
              <div class="hint">deliveries per encoded frame</div></div>
            <div class="card"><div class="label">Memory / connection</div>
              <div class="value" data-stat="memory_per_connection">–</div>
              <div class="hint"><span data-stat="resident_bytes">–</span> resident</div></div>
            <div class="card"><div class="label">CPU</div><div class="value" data-stat="cpu_percent">–</div>
              <div class="hint">of one core</div></div>
            <div class="card"><div class="label">Slow consumers</div>
              <div class="value" data-stat="slow_consumer_disconnects">–</div>
              <div class="hint">disconnected; <span data-stat="slow_consumer_drops">–</span> messages dropped</div>
            </div>
            <div class="card"><div class="label">Frames encoded</div>
              <div class="value" data-stat="frames_encoded">–</div>
              <div class="hint"><span data-stat="deliveries">–</span> deliveries</div></div>
          </div>
          <section>
            <h2>Deliveries per second, last minute</h2>
            <div class="panel"><svg viewBox="0 0 600 90" preserveAspectRatio="none" aria-label="deliveries per second">
              <polyline id="spark" fill="none" stroke="#3d6ee8" stroke-width="2" points=""></polyline></svg></div>
          </section>
          <section>
            <h2>Busiest channels</h2>
            <div class="panel"><table data-stat="busiest_channels">
              <thead><tr><th>channel</th><th class="n">subscribers</th><th class="n">deliveries / s</th></tr></thead>
              <tbody><tr><td colspan="3" class="hint">no deliveries yet</td></tr></tbody></table></div>
          </section>
          <footer>Report <span data-stat="offset">–</span> of epoch <span data-stat="epoch">–</span>, once a second
            over this page's own WebSocket (chorus.v1). Cluster: <span data-stat="cluster_connected">–</span>.</footer>
        </main>
        <script type="module">
          import { Chorus } from "/chorus.js";
          var token = new URLSearchParams(location.search).get("token");
          var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/status/live"
            + (token ? "?token=" + encodeURIComponent(token) : "");
          var rates = [];
          var number = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });
          function bytes(n) {
            var units = ["B", "KB", "MB", "GB"], i = 0;
            while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
            return number.format(n) + " " + units[i];
          }
          var formats = {
            memory_per_connection: bytes, resident_bytes: bytes,
            cpu_percent: function (n) { return number.format(n) + " %"; },
            buffer_reuse: function (n) { return number.format(n) + "×"; },
            cluster_connected: function (v) { return v === null ? "single node" : v ? "connected" : "disconnected"; }
          };
          function show(name, value) {
            document.querySelectorAll('[data-stat="' + name + '"]').forEach(function (element) {
              element.dataset.value = String(value);
              element.textContent = (formats[name] || number.format)(value);
            });
          }
          function spark(value) {
            rates.push(value);
            if (rates.length > 60) rates.shift();
            var top = Math.max.apply(null, rates.concat([1]));
            document.getElementById("spark").setAttribute("points", rates.map(function (v, i) {
              return (i * 10) + "," + (88 - v / top * 84).toFixed(1);
            }).join(" "));
          }
          function busiest(channels) {
            var body = document.querySelector('[data-stat="busiest_channels"] tbody');
            body.replaceChildren();
            if (channels.length === 0) {
              var empty = body.insertRow().insertCell();
              empty.colSpan = 3; empty.className = "hint"; empty.textContent = "no deliveries in the last second";
            }
            channels.forEach(function (c) {
              var row = body.insertRow();
              row.insertCell().textContent = c.channel;
              var subscribers = row.insertCell(); subscribers.className = "n";
              subscribers.textContent = number.format(c.subscribers);
              var rate = row.insertCell(); rate.className = "n";
              rate.textContent = number.format(c.deliveries_per_second);
            });
            document.querySelector('[data-stat="busiest_channels"]').dataset.value = String(channels.length);
          }
          var state = document.getElementById("state");
          var chorus = new Chorus(url);
          chorus.on("state", function (s) { state.textContent = s; state.className = s; });
          chorus.subscribe("_chorus.status", function (report, meta) {
            Object.keys(report).forEach(function (name) {
              if (name !== "busiest_channels") show(name, report[name]);
            });
            busiest(report.busiest_channels);
            spark(report.deliveries_per_second);
            show("offset", meta.offset);
            document.querySelector('[data-stat="epoch"]').textContent = meta.epoch;
            document.body.dataset.reports = String((Number(document.body.dataset.reports) || 0) + 1);
          });
        </script>
        </body>
        </html>
        """#
}
