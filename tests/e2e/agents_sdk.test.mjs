// The OpenAI Agents SDK (@openai/agents) against Switchboard: an agent with
// a function tool runs to its final answer over the Responses API (its
// default) and over Chat Completions, plain and streamed, on an
// OpenAI-compatible and an Anthropic upstream; a second run continues the
// first with previousResponseId on another provider.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, run, tool, setDefaultOpenAIClient, setOpenAIAPI, setTracingDisabled } from '@openai/agents';
import OpenAI from 'openai';
import { z } from 'zod';

import { startGateway, queryDb, waitFor } from '../integration/harness.mjs';
import { startOpenAIEmulator } from '../emulators/openai.mjs';
import { startAnthropicEmulator } from '../emulators/anthropic.mjs';

const UP = 'sk-e2e-agents-upstream';

const weather = tool({
  name: 'weather',
  description: 'The weather in a city',
  parameters: z.object({ city: z.string() }),
  execute: async ({ city }) => `${city}: 21 C`,
});

describe('openai agents sdk', () => {
  let oai;
  let claude;
  let gw;

  before(async () => {
    oai = await startOpenAIEmulator({ apiKey: UP, quiet: true });
    claude = await startAnthropicEmulator({ apiKey: UP, quiet: true });
    gw = await startGateway({
      env: { UP },
      config: {
        providers: [
          { name: 'oai', kind: 'openai', base_url: oai.url, api_key_env: 'UP', models: ['gpt-4o-mini'] },
          { name: 'claude', kind: 'anthropic', base_url: claude.url, api_key_env: 'UP', models: ['claude-sonnet-4-5'] },
        ],
      },
    });
    setTracingDisabled(true); // no export to OpenAI's tracing service
    setDefaultOpenAIClient(new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 }));
  });
  after(async () => {
    setOpenAIAPI('responses');
    if (gw) await gw.stop();
    if (oai) await oai.close();
    if (claude) await claude.close();
  });

  for (const api of ['responses', 'chat_completions']) {
    for (const model of ['oai/gpt-4o-mini', 'claude/claude-sonnet-4-5']) {
      test(`${api} → ${model}: a tool call, its result, the final answer; then streamed`, async () => {
        setOpenAIAPI(api);
        // Call the tool on the first turn, then answer (the emulators call
        // tools when told to).
        const agent = new Agent({
          name: 'forecaster', instructions: 'Be brief.', model, tools: [weather],
          modelSettings: { toolChoice: 'required' }, resetToolChoice: true,
        });
        const r = await run(agent, 'Weather in Paris?', { maxTurns: 4 });
        assert.deepEqual(r.newItems.map((i) => i.type), ['tool_call_item', 'tool_call_output_item', 'message_output_item']);
        assert.equal(r.newItems[0].rawItem.name, 'weather');
        assert.ok(typeof r.finalOutput === 'string' && r.finalOutput.length > 0);
        const s = await run(agent, 'Weather in Oslo?', { stream: true, maxTurns: 4 });
        let text = '';
        for await (const d of s.toTextStream()) text += d;
        await s.completed;
        assert.ok(text.length > 0, 'streamed text');
        assert.equal(s.finalOutput, text);
      });
    }
  }

  test('previousResponseId continues a conversation on another provider', async () => {
    setOpenAIAPI('responses');
    const first = await run(new Agent({ name: 'a', instructions: 'Be brief.', model: 'oai/gpt-4o-mini' }), 'remember the word teal');
    assert.match(first.lastResponseId, /^resp_/);
    const second = await run(new Agent({ name: 'b', instructions: 'Be brief.', model: 'claude/claude-sonnet-4-5' }),
      'which word?', { previousResponseId: first.lastResponseId });
    assert.match(second.lastResponseId, /^resp_/);
    // The second turn reached Anthropic with the first turn in front of it.
    const sent = claude.lastRequest().body;
    assert.ok(JSON.stringify(sent.messages).includes('remember the word teal'), JSON.stringify(sent.messages));
    await waitFor(async () => (await queryDb(gw.dbPath, `SELECT count(*) AS n FROM responses WHERE previous_response_id = '${first.lastResponseId}'`))[0].n === 1,
      { what: 'the second response stored with its predecessor' });
  });
});
