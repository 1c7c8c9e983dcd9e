// The Vercel AI SDK (ai 5 with @ai-sdk/openai and @ai-sdk/anthropic)
// against Switchboard: its three ways of talking to a base URL (OpenAI
// Responses, the default of openai(model); Chat Completions, openai.chat;
// Anthropic Messages), plain and streamed, and its multi-step tool loop,
// which on the Responses API refers back to stored output items with
// item_reference. Upstreams are the OpenAI and Anthropic emulators.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateText, streamText, tool, stepCountIs } from 'ai';
import { createOpenAI } from '@ai-sdk/openai';
import { createAnthropic } from '@ai-sdk/anthropic';
import { z } from 'zod';

import { startGateway, queryDb, waitFor } from '../integration/harness.mjs';
import { startOpenAIEmulator } from '../emulators/openai.mjs';
import { startAnthropicEmulator } from '../emulators/anthropic.mjs';

const UP = 'sk-e2e-ai-sdk-upstream';
globalThis.AI_SDK_LOG_WARNINGS = false;

const weather = tool({
  description: 'The weather in a city',
  inputSchema: z.object({ city: z.string() }),
  execute: async ({ city }) => ({ city, celsius: 21 }),
});
// Call the tool first, then answer: the emulators call tools when told to.
const prepareStep = ({ stepNumber }) => (stepNumber === 0 ? { toolChoice: 'required' } : { toolChoice: 'none' });

describe('vercel ai sdk', () => {
  let oai;
  let claude;
  let gw;
  let apis;
  const sent = []; // Responses API request bodies, as the SDK sent them

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
    const openai = createOpenAI({
      baseURL: `${gw.url}/v1`,
      apiKey: 'unused',
      fetch: (url, init) => {
        if (String(url).endsWith('/responses') && init && init.body) sent.push(JSON.parse(init.body));
        return fetch(url, init);
      },
    });
    const anthropic = createAnthropic({ baseURL: `${gw.url}/v1`, apiKey: 'unused' });
    apis = { responses: (m) => openai(m), chat: (m) => openai.chat(m), messages: (m) => anthropic(m) };
  });
  after(async () => {
    if (gw) await gw.stop();
    if (oai) await oai.close();
    if (claude) await claude.close();
  });

  for (const api of ['responses', 'chat', 'messages']) {
    test(`${api}: generateText and streamText with usage`, async () => {
      const g = await generateText({ model: apis[api]('echo/echo-1'), prompt: 'hello from the ai sdk' });
      assert.equal(g.text, 'hello from the ai sdk');
      assert.equal(g.finishReason, 'stop');
      assert.equal(g.usage.outputTokens, 5);
      const s = streamText({ model: apis[api]('echo/story-1'), prompt: 'tell me', maxOutputTokens: 12 });
      let text = '';
      for await (const d of s.textStream) text += d;
      assert.match(text, /^Once upon a time/);
      assert.equal(await s.finishReason, 'length');
      assert.equal((await s.usage).outputTokens, 12);
    });
  }

  // The Anthropic upstream is left out of the messages row: there the
  // gateway relays Anthropic's answer as it is, and this SDK version
  // rejects the "citations": null that Anthropic puts in text blocks.
  const loops = [['responses', 'oai/gpt-4o-mini'], ['responses', 'claude/claude-sonnet-4-5'],
    ['chat', 'oai/gpt-4o-mini'], ['chat', 'claude/claude-sonnet-4-5'], ['messages', 'oai/gpt-4o-mini']];
  for (const [api, model] of loops) {
    test(`${api} → ${model}: a tool loop, generated and streamed`, async () => {
      const g = await generateText({ model: apis[api](model), prompt: 'Weather in Paris?', tools: { weather }, prepareStep, stopWhen: stepCountIs(3) });
      assert.equal(g.steps.length, 2);
      assert.deepEqual(g.steps[0].toolCalls.map((c) => c.toolName), ['weather']);
      assert.equal(g.steps[0].finishReason, 'tool-calls');
      assert.ok(g.text.length > 0, 'an answer after the tool result');
      const s = streamText({ model: apis[api](model), prompt: 'Weather in Oslo?', tools: { weather }, prepareStep, stopWhen: stepCountIs(3) });
      let text = '';
      for await (const d of s.textStream) text += d;
      const steps = await s.steps;
      assert.equal(steps.length, 2);
      assert.equal(steps[0].toolCalls[0].toolName, 'weather');
      assert.ok(text.length > 0);
    });
  }

  test('the Responses tool loop sent item references, and the gateway resolved them', async () => {
    // The second step of each loop above referred to the stored function
    // call instead of sending it again; those steps were answered.
    const refs = sent.filter((b) => Array.isArray(b.input) && b.input.some((i) => i.type === 'item_reference'));
    assert.ok(refs.length >= 4, `${refs.length} requests with item references`);
    await waitFor(async () => (await queryDb(gw.dbPath,
      "SELECT count(*) AS n FROM requests WHERE api = 'responses' AND status = 200")).at(0).n >= 8, { what: 'records' });
    const [{ n }] = await queryDb(gw.dbPath, 'SELECT count(*) AS n FROM response_items WHERE id LIKE \'fc_%\'');
    assert.ok(n >= 4, `${n} stored function calls`);
  });
});
