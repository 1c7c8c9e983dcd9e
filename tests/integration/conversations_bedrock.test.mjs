// Claude on Bedrock in a stored conversation (issue 13 item 5,
// docs/conversations.md "Provider state across switches"): Bedrock's
// signed reasoning (format bedrock-converse-v1) goes back to Bedrock, first
// in its assistant turn, on the tool loop that needs it; Anthropic's API
// never gets it, nor Bedrock Anthropic's. The Bedrock emulator is as strict
// as Claude on Bedrock: a tool loop's assistant turn must start with its
// reasoning when thinking is on, and only signatures it issued pass.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

import { startGateway, request } from './harness.mjs';
import { startBedrockEmulator } from '../emulators/bedrock.mjs';
import { startAnthropicEmulator } from '../emulators/anthropic.mjs';

const AK = `AKIA${randomBytes(8).toString('hex').toUpperCase()}`;
const SK = randomBytes(20).toString('base64');
const REGION = 'us-west-2';
const MODEL = 'anthropic.claude-3-7-sonnet-20250219-v1:0';
const ANT_KEY = 'sk-ant-conv-bedrock-0123456789';
const HDR = 'x-switchboard-conversation';

const WEATHER = {
  type: 'function',
  function: {
    name: 'get_weather', description: 'Weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

describe('a conversation through Claude on Bedrock and Anthropic', () => {
  let br;
  let ant;
  let gw;
  let conv;
  let brSig;

  before(async () => {
    br = await startBedrockEmulator({ accessKey: AK, secretKey: SK, region: REGION, models: [MODEL] });
    ant = await startAnthropicEmulator({ apiKey: ANT_KEY });
    gw = await startGateway({
      env: { SB_TEST_AWS_AK: AK, SB_TEST_AWS_SK: SK, UP_ANT: ANT_KEY },
      config: {
        providers: [
          {
            name: 'br', kind: 'bedrock', base_url: br.url, models: [MODEL],
            options: { region: REGION, access_key_env: 'SB_TEST_AWS_AK', secret_key_env: 'SB_TEST_AWS_SK' },
          },
          { name: 'an', kind: 'anthropic', base_url: ant.url, api_key_env: 'UP_ANT', models: ['claude-sonnet-4-5'] },
        ],
      },
    });
    const r = await request(`${gw.url}/v1/conversations`, { body: {} });
    assert.equal(r.status, 200, r.text);
    conv = r.json.id;
  });
  after(async () => {
    if (gw) await gw.stop();
    for (const e of [br, ant]) if (e) await e.close();
  });

  const chat = (body) => request(`${gw.url}/v1/chat/completions`, { body, headers: { [HDR]: conv } });

  test('Bedrock with thinking: a tool call, its reasoning signed in Bedrock\'s format', async () => {
    const r = await chat({
      model: `br/${MODEL}`, reasoning_effort: 'low', max_tokens: 4096, tools: [WEATHER],
      messages: [{ role: 'user', content: 'get_weather in Lima' }],
    });
    assert.equal(r.status, 200, r.text);
    const msg = r.json.choices[0].message;
    assert.equal(msg.tool_calls?.length, 1, r.text);
    const d = (msg.reasoning_details || [])[0];
    assert.equal(d?.format, 'bedrock-converse-v1', r.text);
    brSig = d.signature;
    assert.ok(brSig);
  });

  test('the tool result: Bedrock gets its own signed reasoning back, first in the assistant turn', async () => {
    const call = (await request(`${gw.url}/v1/conversations/${conv}/items?order=asc`)).json.data.find((i) => i.type === 'function_call');
    const r = await chat({
      model: `br/${MODEL}`, reasoning_effort: 'low', max_tokens: 4096, tools: [WEATHER],
      messages: [{ role: 'tool', tool_call_id: call.call_id, content: '18C and sunny' }],
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['x-switchboard-dropped-params'], undefined, 'thinking stayed on');
    const up = br.lastRequest().body;
    const asst = up.messages.find((m) => m.role === 'assistant' && m.content.some((b) => b.toolUse));
    assert.equal(asst.content[0].reasoningContent?.reasoningText?.signature, brSig, JSON.stringify(asst));
  });

  test('on Anthropic\'s API: none of Bedrock\'s reasoning is sent', async () => {
    const r = await chat({ model: 'an/claude-sonnet-4-5', max_tokens: 256, messages: [{ role: 'user', content: 'and now Anthropic' }] });
    assert.equal(r.status, 200, r.text);
    const raw = JSON.stringify(ant.lastRequest().body);
    assert.ok(!raw.includes(brSig) && !raw.includes('"thinking"'), raw);
  });

  test('back on Bedrock without tools: its own reasoning again, the earlier tool loop as text', async () => {
    const r = await chat({ model: `br/${MODEL}`, max_tokens: 256, messages: [{ role: 'user', content: 'back to Bedrock' }] });
    assert.equal(r.status, 200, r.text);
    const raw = JSON.stringify(br.lastRequest().body);
    assert.ok(raw.includes(brSig), 'its own signature goes back');
    // Bedrock refuses tool blocks without toolConfig: the loop is text now.
    assert.ok(!raw.includes('"toolUse"') && raw.includes('[tool call '), raw);
    assert.match(r.headers['x-switchboard-dropped-params'] || '', /tool_calls \(sent as text\)/);
  });
});
