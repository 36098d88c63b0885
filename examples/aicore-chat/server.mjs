#!/usr/bin/env node
// An OpenAI-compatible chat completions server with a tiny deterministic "model": it answers with the
// last user message reversed. No dependencies and nothing of Gantry: it is what a model server on SAP
// AI Core (KServe) is, a plain HTTP server on its port, ready when that port answers. Gantry runs it
// as a probe-ready worker (readiness "http"); @sap-ai-sdk/foundation-models' Azure OpenAI clients call
// it through the deployment URL:
//
//   POST {deploymentUrl}/chat/completions?api-version=2024-10-21   (AzureOpenAiChatClient.run / .stream)
//   POST {deploymentUrl}/embeddings?api-version=2024-10-21         (AzureOpenAiEmbeddingClient.run)
//
// Any path ending in /chat/completions or /embeddings is served (so /v1/chat/completions works too);
// GET / and GET /health answer 200; GET /v1/models lists the one model.
//
// Environment: PORT (Gantry sets it to the port it published; default 8080), MODEL_NAME (the model's
// name in answers; default gantry-tiny-chat).
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';

const PORT = Number(process.env.PORT ?? 8080);
const MODEL = process.env.MODEL_NAME ?? 'gantry-tiny-chat';
const EMBEDDING_DIM = 8;
const MAX_BODY_BYTES = 1 << 20;
/** How long the "model" thinks before each answer (ms): makes in-flight work visible, e.g. to watch a stop drain it. */
const THINK_MS = Number(process.env.THINK_MS ?? 0);

/** The "model": the last user message, reversed. Deterministic, so tests can check the answer. */
function reply(text) {
  return [...text].reverse().join('');
}

/** Message content is a string or a list of parts ({type:"text", text}); only the text parts count. */
function textOf(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((p) => (p && p.type === 'text' && typeof p.text === 'string' ? p.text : '')).join('');
  return '';
}

/** A whitespace word is a token, as far as this model is concerned. */
function tokens(text) {
  return text.split(/\s+/).filter((w) => w !== '').length;
}

function idFor(kind, body) {
  return `${kind}-${createHash('sha256').update(JSON.stringify(body)).digest('hex').slice(0, 24)}`;
}

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** OpenAI's error body, which the SDK surfaces in its error message. */
function fail(res, status, message, code = 'invalid_request_error') {
  send(res, status, { error: { message, type: 'invalid_request_error', param: null, code } });
}

function chat(req, res, body) {
  if (!Array.isArray(body.messages) || body.messages.length === 0) return fail(res, 400, "'messages' must be a non-empty array.");
  const users = body.messages.filter((m) => m && m.role === 'user');
  const prompt = body.messages.map((m) => textOf(m?.content)).join(' ');
  const content = reply(users.length > 0 ? textOf(users[users.length - 1].content) : '');
  const usage = { prompt_tokens: tokens(prompt), completion_tokens: tokens(content), total_tokens: tokens(prompt) + tokens(content) };
  const id = idFor('chatcmpl', body);
  const created = Math.floor(Date.now() / 1000);
  if (body.stream !== true) {
    return send(res, 200, {
      id,
      object: 'chat.completion',
      created,
      model: MODEL,
      system_fingerprint: null,
      choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, logprobs: null, finish_reason: 'stop' }],
      usage,
    });
  }
  // Server-sent events as OpenAI streams them: a role chunk, content chunks, a finish chunk, usage if asked, [DONE].
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  const chunk = (choices, extra = {}) => res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: MODEL, choices, ...extra })}\n\n`);
  chunk([{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]);
  for (const piece of content.match(/\S+\s*|\s+/g) ?? []) chunk([{ index: 0, delta: { content: piece }, logprobs: null, finish_reason: null }]);
  chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]);
  if (body.stream_options?.include_usage === true) chunk([], { usage });
  res.end('data: [DONE]\n\n');
}

/** A deterministic unit vector per input text. */
function embedding(text) {
  const h = createHash('sha256').update(text).digest();
  const v = Array.from({ length: EMBEDDING_DIM }, (_, i) => h[i] / 255 - 0.5);
  const norm = Math.hypot(...v) || 1;
  return v.map((x) => Number((x / norm).toFixed(6)));
}

function embeddings(req, res, body) {
  const inputs = typeof body.input === 'string' ? [body.input] : Array.isArray(body.input) ? body.input : null;
  if (inputs === null || inputs.some((x) => typeof x !== 'string')) return fail(res, 400, "'input' must be a string or an array of strings.");
  const n = inputs.reduce((s, x) => s + tokens(x), 0);
  send(res, 200, {
    object: 'list',
    model: MODEL,
    data: inputs.map((x, index) => ({ object: 'embedding', index, embedding: embedding(x) })),
    usage: { prompt_tokens: n, total_tokens: n },
  });
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    const parts = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('request body too large'));
        req.destroy();
      } else parts.push(c);
    });
    req.on('end', () => {
      const text = Buffer.concat(parts).toString('utf8');
      try {
        resolve(text === '' ? {} : JSON.parse(text));
      } catch {
        reject(new Error('request body is not JSON'));
      }
    });
    req.on('error', reject);
  });
}

const server = createServer((req, res) => {
  const path = new URL(req.url ?? '/', 'http://x').pathname.replace(/\/+$/, '');
  if (req.method === 'GET' && (path === '' || path === '/health')) return send(res, 200, { status: 'ok', model: MODEL });
  if (req.method === 'GET' && path.endsWith('/models')) return send(res, 200, { object: 'list', data: [{ id: MODEL, object: 'model', created: 0, owned_by: 'gantry' }] });
  const route = path.endsWith('/chat/completions') ? chat : path.endsWith('/embeddings') ? embeddings : null;
  if (route === null) return fail(res, 404, `No route for ${req.method} ${path || '/'}.`, 'not_found');
  if (req.method !== 'POST') return fail(res, 405, `Use POST for ${path}.`, 'method_not_allowed');
  readJson(req).then(
    (body) =>
      body !== null && typeof body === 'object' && !Array.isArray(body)
        ? setTimeout(() => route(req, res, body), THINK_MS)
        : fail(res, 400, 'The request body must be a JSON object.'),
    (err) => fail(res, 400, err.message),
  );
});

server.listen(PORT, () => console.log(`aicore-chat: model ${MODEL} listening on port ${PORT}`));
// On a stop: finish the requests being answered, drop idle keep-alive connections (the gateway's pool keeps some).
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    server.close(() => process.exit(0));
    server.closeIdleConnections();
  });
}
