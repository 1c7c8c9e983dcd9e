// The translation-fidelity matrix for the pass-through kinds (openai,
// azure): one test per cell against the strict OpenAI emulator, each
// printing its MATRIX line (tests/matrix.mjs builds the table).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startOpenAIEmulator } from '../emulators/openai.mjs';
import { startGateway, postChat, streamChat, request, chatBody } from './harness.mjs';

const KEY = 'matrix-key-0123456789';
const TOOLS = [
  { type: 'function', function: { name: 'get_weather', description: 'Weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } },
  { type: 'function', function: { name: 'get_time', description: 'Time in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } },
];
const PNG = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

for (const kind of ['openai', 'azure']) {
  describe(`matrix: ${kind}`, () => {
    let emu;
    let gw;
    const results = [];
    const M = (name) => `${kind === 'openai' ? 'p' : 'az'}/gpt-4o-mini`;
    const F = (fault) => `${kind === 'openai' ? 'p' : 'az'}/${fault}`;

    // Runs one cell and records its outcome for the MATRIX line.
    const cell = (name, fn) => test(name, async () => {
      try {
        await fn();
        results.push(`MATRIX ${kind} ${name} pass`);
      } catch (e) {
        results.push(`MATRIX ${kind} ${name} fail: ${String(e.message).split('\n')[0]}`);
        throw e;
      }
    });

    before(async () => {
      emu = await startOpenAIEmulator({ apiKey: KEY, azure: kind === 'azure', quiet: true,
        models: ['gpt-4o-mini', 'text-embedding-3-small'] });
      const provider = kind === 'openai'
        ? { name: 'p', kind, base_url: emu.url, api_key_env: 'SB_MX_KEY' }
        : { name: 'az', kind, base_url: emu.url.replace(/\/v1$/, ''), api_key_env: 'SB_MX_KEY' };
      gw = await startGateway({
        config: { providers: [{ ...provider, models: ['gpt-4o-mini', 'text-embedding-3-small', 'fault-400', 'fault-401', 'fault-429', 'fault-500', 'content-filter'] }] },
        env: { SB_MX_KEY: KEY },
      });
    });
    after(async () => {
      if (gw) await gw.stop();
      if (emu) await emu.close();
      for (const line of results) console.log(line);
    });

    cell('text', async () => {
      const r = await postChat(gw.url, chatBody(M(), 'hi there'));
      assert.equal(r.status, 200);
      assert.equal(r.json.choices[0].message.content, 'You said: hi there');
    });
    cell('stream-text', async () => {
      const r = await streamChat(gw.url, chatBody(M(), 'hi there', { stream: true }));
      assert.ok(r.done);
      assert.equal(r.contentText, 'You said: hi there');
    });
    cell('tool-call', async () => {
      const r = await postChat(gw.url, chatBody(M(), 'Paris', { tools: TOOLS, tool_choice: { type: 'function', function: { name: 'get_weather' } } }));
      assert.equal(r.status, 200);
      const tc = r.json.choices[0].message.tool_calls;
      assert.equal(tc.length, 1);
      assert.equal(tc[0].function.name, 'get_weather');
      assert.equal(r.json.choices[0].finish_reason, 'tool_calls');
      JSON.parse(tc[0].function.arguments);
    });
    cell('stream-tool-call', async () => {
      const r = await streamChat(gw.url, chatBody(M(), 'Paris', { stream: true, tools: TOOLS, tool_choice: { type: 'function', function: { name: 'get_weather' } } }));
      assert.ok(r.done);
      const frags = r.chunks.flatMap((c) => c.choices?.[0]?.delta?.tool_calls ?? []);
      assert.equal(frags[0].function.name, 'get_weather');
      JSON.parse(frags.map((f) => f.function.arguments ?? '').join(''));
    });
    cell('tool-result-round-trip', async () => {
      const messages = [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: '18C' },
      ];
      const r = await postChat(gw.url, { model: M(), messages, tools: TOOLS });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(emu.stats.requests.at(-1).body.messages, messages);
    });
    cell('parallel-tools', async () => {
      const r = await postChat(gw.url, chatBody(M(), 'Paris', { tools: TOOLS, tool_choice: 'required' }));
      assert.equal(r.json.choices[0].message.tool_calls.length, 2);
    });
    cell('image-input', async () => {
      const body = { model: M(), messages: [{ role: 'user', content: [{ type: 'text', text: 'what is this' }, { type: 'image_url', image_url: { url: PNG } }] }] };
      const r = await postChat(gw.url, body);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(emu.stats.requests.at(-1).body.messages[0].content[1], { type: 'image_url', image_url: { url: PNG } });
    });
    cell('json-schema', async () => {
      const rf = { type: 'json_schema', json_schema: { name: 'w', schema: { type: 'object', properties: { t: { type: 'number' } } } } };
      const r = await postChat(gw.url, chatBody(M(), 'json please', { response_format: rf }));
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(emu.stats.requests.at(-1).body.response_format, rf);
    });
    cell('stream-usage', async () => {
      const r = await streamChat(gw.url, chatBody(M(), 'count me', { stream: true, stream_options: { include_usage: true } }));
      const last = r.chunks.at(-1);
      assert.deepEqual(last.choices, []);
      assert.ok(last.usage.completion_tokens > 0);
    });
    cell('finish-stop', async () => {
      const r = await postChat(gw.url, chatBody(M(), 'a b'));
      assert.equal(r.json.choices[0].finish_reason, 'stop');
    });
    cell('finish-length', async () => {
      const r = await postChat(gw.url, chatBody(M(), 'a b c d e f', { max_tokens: 2 }));
      assert.equal(r.json.choices[0].finish_reason, 'length');
    });
    cell('finish-tool-calls', async () => {
      const r = await postChat(gw.url, chatBody(M(), 'x', { tools: TOOLS, tool_choice: 'required' }));
      assert.equal(r.json.choices[0].finish_reason, 'tool_calls');
    });
    cell('finish-content-filter', async () => {
      const r = await postChat(gw.url, chatBody(F('content-filter'), 'a b c'));
      assert.equal(r.json.choices[0].finish_reason, 'content_filter');
      const s = await streamChat(gw.url, chatBody(F('content-filter'), 'a b c', { stream: true }));
      assert.ok(s.done);
      const fin = s.chunks.map((c) => c.choices?.[0]?.finish_reason).filter(Boolean);
      assert.deepEqual(fin, ['content_filter']);
    });
    cell('error-400', async () => {
      const r = await postChat(gw.url, chatBody(F('fault-400'), 'x'));
      assert.equal(r.status, 400);
    });
    cell('error-401', async () => {
      const r = await postChat(gw.url, chatBody(F('fault-401'), 'x'));
      assert.equal(r.status, 502);
      assert.equal(r.json.error.code, 'upstream_auth_failed');
    });
    cell('error-429', async () => {
      const r = await postChat(gw.url, chatBody(F('fault-429'), 'x'));
      assert.equal(r.status, 429);
      assert.ok(r.headers['retry-after']);
    });
    cell('error-5xx', async () => {
      const r = await postChat(gw.url, chatBody(F('fault-500'), 'x'));
      assert.equal(r.status, 502);
    });
    cell('embeddings', async () => {
      const model = `${kind === 'openai' ? 'p' : 'az'}/text-embedding-3-small`;
      const r = await request(`${gw.url}/v1/embeddings`, { method: 'POST', body: { model, input: ['a', 'b'] } });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.data.length, 2);
    });
  });
}
