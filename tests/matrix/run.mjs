// The matrix runner: for one inbound section, every provider kind
// (kinds/<kind>.mjs) behind one gateway, every row (rows.mjs) as one
// node:test test, each printing its MATRIX line:
//   MATRIX <section> <kind> <row> pass|fail: why|unsupported: reason
// tests/matrix.mjs turns the lines of a run into docs/matrix.md.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startGateway } from '../integration/harness.mjs';
import { client } from './inbound.mjs';
import { rowsFor, base } from './rows.mjs';
import { KINDS } from './kinds/index.mjs';

const GATEWAY_KEY = 'sk-sb-admin-matrix-0123456789abcdef0123456789abcdef';

/** Run the whole matrix for section ("chat", "responses", "messages"). */
export function run(section) {
  const cl = client(section);
  const lines = [];
  const started = new Map(); // kind -> its start() answer
  let gw;

  describe(`matrix: ${section}`, () => {
    before(async () => {
      const providers = [];
      const env = { SWITCHBOARD_ADMIN_KEY: GATEWAY_KEY };
      for (const k of KINDS) {
        const s = await k.start();
        started.set(k.kind, s);
        providers.push(...s.providers);
        Object.assign(env, s.env || {});
      }
      gw = await startGateway({
        env,
        config: {
          providers,
          // A stalled upstream is given up on quickly.
          limits: { stream_idle_timeout_s: 2 },
        },
      });
    });
    after(async () => {
      if (gw) await gw.stop();
      for (const s of started.values()) await s.close();
      for (const l of lines) console.log(l);
    });

    for (const k of KINDS) {
      for (const row of rowsFor(section)) {
        test(`${k.kind}: ${row.id}`, async () => {
          const s = started.get(k.kind);
          const sc = k.scenario(row.id, section);
          const ctx = {
            gw, client: cl, kind: k, sc, section,
            upstream: s.upstream,
            headers: { authorization: `Bearer ${GATEWAY_KEY}` },
            gatewayKey: GATEWAY_KEY,
          };
          try {
            if (sc.unsupported) {
              // Not supported by the provider: the gateway must answer the
              // case as documented. By default, refused in the client's
              // own error shape with the documented status; a kind or a
              // row may check it its own way (a case that cannot arise).
              if (sc.verify) await sc.verify(ctx);
              else if (row.refuse) await row.refuse(ctx);
              else {
                const r = await cl.send(gw.url, base(sc, sc.req || {}), { headers: ctx.headers });
                assert.equal(r.ok, false, 'an unsupported case must be refused');
                assert.equal(r.status, sc.expect.status, `status ${r.status}: ${r.raw.slice(0, 200)}`);
                if (sc.expect.type) assert.equal(r.error.type, sc.expect.type);
              }
              lines.push(`MATRIX ${section} ${k.kind} ${row.id} unsupported: ${sc.unsupported}`);
              return;
            }
            await row.run(ctx);
            lines.push(`MATRIX ${section} ${k.kind} ${row.id} pass`);
          } catch (e) {
            lines.push(`MATRIX ${section} ${k.kind} ${row.id} fail: ${String(e.message).split('\n')[0]}`);
            throw e;
          }
        });
      }
    }
  });
}
