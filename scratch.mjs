import { loadConfig } from './dist/config/load.js';
import { openLakeSession, ensureLakeTables, qualifiedNamespace } from './dist/lake/session.js';
import { createLogsView } from './dist/query/lake-view.js';
const cfg = loadConfig({ ...process.env, ICEBERG_NAMESPACE: 'scratch_plan' });
const s = await openLakeSession(cfg);
await ensureLakeTables(s.connection, cfg);
await s.connection.run(`INSERT INTO ${qualifiedNamespace(cfg)}.logs ("timestamp", tenant_id, body, attributes, resource_attributes, tenant_shard) VALUES (now(), 'acme', 'x', MAP{}, MAP{}, 'acme'), (now(), 'beta', 'y', MAP{}, MAP{}, 'beta')`);
await createLogsView(s.connection, cfg, 'acme');
for (const opt of [false, true]) {
const r = await s.connection.runAndReadAll(`SELECT json_serialize_plan('SELECT body FROM logs WHERE body = ''x''', skip_null := true, skip_empty := true, optimize := ${opt})`);
const d = JSON.parse(r.getRows()[0][0]);
const walk = (n, dep) => { console.log(' '.repeat(dep)+n.type, n.type==='LOGICAL_GET'? JSON.stringify(Object.fromEntries(Object.entries(n).filter(([k]) => !['returned_types','children'].includes(k)))).slice(0, 1500): ''); for (const ch of n.children??[]) walk(ch, dep+2); };
console.log(d.error_message); if (d.plans) walk(d.plans[0], 0);
}
s.close();
