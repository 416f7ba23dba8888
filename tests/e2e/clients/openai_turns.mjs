// One turn of the Node `openai` package against an OpenAI-compatible base URL, printed as JSON.
// Usage: node openai_turns.mjs plain|stream|tool   (env: GATEWAY_V1, GATEWAY_KEY, GATEWAY_MODEL)
import OpenAI from "openai";

const client = new OpenAI({
  baseURL: process.env.GATEWAY_V1,
  apiKey: process.env.GATEWAY_KEY,
  maxRetries: 0,
  timeout: 30_000,
});
const model = process.env.GATEWAY_MODEL;
const tools = [
  {
    type: "function",
    function: {
      name: "weather_in",
      description: "The weather in a city.",
      parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
    },
  },
];

async function plain() {
  const { data, response } = await client.chat.completions
    .create({ model, messages: [{ role: "user", content: "hello node" }] })
    .withResponse();
  return {
    text: data.choices[0].message.content,
    total_tokens: data.usage.total_tokens,
    request_ids: [response.headers.get("x-request-id")],
  };
}

async function stream() {
  const { data, response } = await client.chat.completions
    .create({
      model,
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: "user", content: "hello stream" }],
    })
    .withResponse();
  const pieces = [];
  let usage = null;
  for await (const chunk of data) {
    const piece = chunk.choices[0]?.delta?.content;
    if (piece) pieces.push(piece);
    if (chunk.usage) usage = chunk.usage;
  }
  return { pieces, total_tokens: usage?.total_tokens, request_ids: [response.headers.get("x-request-id")] };
}

async function tool() {
  const messages = [{ role: "user", content: "please call tool weather_in" }];
  const asked = await client.chat.completions.create({ model, messages, tools }).withResponse();
  const message = asked.data.choices[0].message;
  const call = message.tool_calls[0];
  messages.push(message, { role: "tool", tool_call_id: call.id, content: "sunny in Lisbon" });
  const answered = await client.chat.completions.create({ model, messages, tools }).withResponse();
  return {
    finish_reason: asked.data.choices[0].finish_reason,
    calls: message.tool_calls.map((c) => [c.function.name, JSON.parse(c.function.arguments)]),
    text: answered.data.choices[0].message.content,
    request_ids: [asked.response.headers.get("x-request-id"), answered.response.headers.get("x-request-id")],
  };
}

const turns = { plain, stream, tool };
process.stdout.write(JSON.stringify(await turns[process.argv[2]]()) + "\n");
