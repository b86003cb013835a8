/**
 * The query page served at `/`: a token, an SQL editor preloaded with the examples of
 * sql/examples (GET /v1/examples), and the answer of POST /v1/query as a table, or its error as
 * the API gave it. Plain HTML and one inline script, so it needs no build step; every value is
 * put on the page as text, never as markup.
 */
export const QUERY_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>otel-lakehouse query</title>
<style>
  body { font: 14px system-ui, sans-serif; margin: 1.5rem; color: #1d1d1f; }
  h1 { font-size: 1.2rem; }
  label { display: block; margin: .6rem 0 .2rem; font-weight: 600; }
  input, select, textarea { font: 13px ui-monospace, monospace; width: 100%; box-sizing: border-box; padding: .4rem; }
  textarea { height: 11rem; }
  button { margin-top: .6rem; padding: .4rem 1.2rem; font-size: 14px; }
  #status { margin: .8rem 0; }
  #error { color: #a40000; white-space: pre-wrap; font-family: ui-monospace, monospace; }
  table { border-collapse: collapse; font: 12px ui-monospace, monospace; }
  th, td { border: 1px solid #ccc; padding: .2rem .4rem; text-align: left; vertical-align: top; max-width: 40rem; overflow-wrap: anywhere; }
  th { background: #f0f0f0; position: sticky; top: 0; }
</style>
</head>
<body>
<h1>Query your logs</h1>
<form id="query">
  <label for="token">Bearer token</label>
  <input id="token" type="password" autocomplete="off" placeholder="the token you send telemetry with">
  <label for="example">Example</label>
  <select id="example"><option value="">(choose an example)</option></select>
  <label for="sql">SQL over the view <code>logs</code> (your rows only)</label>
  <textarea id="sql" spellcheck="false">SELECT "timestamp", service_name, severity, body FROM logs ORDER BY "timestamp" DESC LIMIT 20</textarea>
  <button id="run" type="submit">Run</button>
</form>
<div id="status" role="status"></div>
<div id="error" role="alert"></div>
<div id="result"></div>
<script>
(function () {
  var form = document.getElementById('query');
  var token = document.getElementById('token');
  var example = document.getElementById('example');
  var sql = document.getElementById('sql');
  var status = document.getElementById('status');
  var error = document.getElementById('error');
  var result = document.getElementById('result');
  token.value = sessionStorage.getItem('otel-lakehouse-token') || '';
  var examples = [];
  fetch('v1/examples').then(function (r) { return r.json(); }).then(function (list) {
    examples = list;
    list.forEach(function (e, i) {
      var o = document.createElement('option');
      o.value = String(i);
      o.textContent = e.name + ': ' + e.description;
      example.appendChild(o);
    });
  });
  example.addEventListener('change', function () {
    var e = examples[Number(example.value)];
    if (e) sql.value = e.sql;
  });
  function cell(v) {
    if (v === null || v === undefined) return 'NULL';
    return typeof v === 'object' ? JSON.stringify(v) : String(v);
  }
  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    sessionStorage.setItem('otel-lakehouse-token', token.value);
    status.textContent = 'running…';
    error.textContent = '';
    result.textContent = '';
    var started = performance.now();
    fetch('v1/query', {
      method: 'POST',
      headers: { 'authorization': 'Bearer ' + token.value.trim(), 'content-type': 'application/json', 'accept': 'application/json' },
      body: JSON.stringify({ sql: sql.value })
    }).then(function (r) {
      return r.text().then(function (text) {
        var body;
        try { body = JSON.parse(text); } catch (e) { body = undefined; }
        if (!r.ok) {
          status.textContent = '';
          error.textContent = r.status + ' ' + (body && body.error ? body.error + ': ' + body.message : text);
          return;
        }
        if (!body) {
          status.textContent = '';
          error.textContent = 'the answer was cut off: ' + text.slice(-200);
          return;
        }
        var seconds = ((performance.now() - started) / 1000).toFixed(2);
        status.textContent = body.row_count + ' row' + (body.row_count === 1 ? '' : 's') + ' in ' + seconds + ' s' +
          (body.truncated ? ' (truncated: the answer reached the service\\'s limit of ' + body.truncated_by + ')' : '');
        var table = document.createElement('table');
        var tr = document.createElement('tr');
        body.columns.forEach(function (c) {
          var th = document.createElement('th');
          th.textContent = c.name;
          th.title = c.type;
          tr.appendChild(th);
        });
        table.appendChild(tr);
        body.rows.forEach(function (row) {
          var tr = document.createElement('tr');
          row.forEach(function (v) {
            var td = document.createElement('td');
            td.textContent = cell(v);
            tr.appendChild(td);
          });
          table.appendChild(tr);
        });
        result.appendChild(table);
      });
    }).catch(function (e) {
      status.textContent = '';
      error.textContent = 'the query service could not be reached: ' + e.message;
    });
  });
})();
</script>
</body>
</html>
`;
