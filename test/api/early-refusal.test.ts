import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { ONE_STORE } from '../helpers/stores.js';

/**
 * Large bodies from callers who have not proven who they are are refused before they are read:
 * authenticated routes check the credential before the body (the edge's preParsing hook), and the
 * code upload (whose token is in its form) reads only the fields it takes, short, and refuses the
 * rest at once. Each test sends the head and a part of a body much larger than that part over a raw
 * socket, sends no more, and gets its answer: the server answered while the body was unfinished.
 */
interface Answer {
  readonly status: number;
  readonly headers: ReadonlyMap<string, string>;
  readonly body: Record<string, any>;
}

/** A parsed answer once `data` holds one whole, else null. */
function answerIn(data: Buffer): Answer | null {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const [statusLine = '', ...lines] = data.subarray(0, end).toString('latin1').split('\r\n');
  const headers = new Map(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()] as [string, string]));
  const length = Number(headers.get('content-length'));
  const body = data.subarray(end + 4);
  if (!Number.isFinite(length) || body.length < length) return null;
  return { status: Number(statusLine.split(' ')[1]), headers, body: JSON.parse(body.subarray(0, length).toString('utf8')) as Record<string, any> };
}

/**
 * Send the head of a request and the first bytes of its body (never the rest), and read the answer;
 * with `untilClosed`, also wait for the server to close the connection (it reads no more of the body).
 */
async function sendPart(g: TestGantry, head: string, bodyStart: Buffer | string, o: { untilClosed?: boolean } = {}): Promise<Answer> {
  const socket: Socket = connect(Number(new URL(g.url).port), '127.0.0.1');
  // The server may close while this side still writes: that is what is tested, not an error.
  socket.on('error', () => undefined);
  let data = Buffer.alloc(0);
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  const answer = new Promise<Answer>((resolve, reject) => {
    socket.on('data', (b: Buffer) => {
      data = Buffer.concat([data, b]);
      const a = answerIn(data);
      if (a !== null) resolve(a);
    });
    void closed.then(() => reject(new Error(`closed without a whole answer: ${JSON.stringify(data.toString('latin1').slice(0, 300))}`)));
  });
  socket.write(head);
  socket.write(bodyStart);
  try {
    const a = await answer;
    if (o.untilClosed === true) await closed;
    return a;
  } finally {
    socket.destroy();
  }
}

const BOUNDARY = 'gantry-test-boundary';
const field = (name: string, value: string | Buffer, filename?: string): Buffer =>
  Buffer.concat([
    Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"${filename !== undefined ? `; filename="${filename}"` : ''}\r\n\r\n`),
    Buffer.from(value),
    Buffer.from('\r\n'),
  ]);
/** One HTTP/1.1 chunk of a chunked body. */
const chunk = (b: Buffer): Buffer => Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from('\r\n')]);
const uploadHead = (length: 'chunked' | number): string =>
  `POST /api/v0/deployment_uploads/ HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=${BOUNDARY}\r\n` +
  (length === 'chunked' ? 'Transfer-Encoding: chunked\r\n\r\n' : `Content-Length: ${length}\r\n\r\n`);

for (const ts of ONE_STORE) {
  describe(`early refusal of unauthenticated bodies (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    before(async () => {
      g = await startTestGantry(ts);
    });
    after(() => g.dispose());

    const vastRefusal = (a: Answer, status: number, msg: RegExp): void => {
      assert.equal(a.status, status, JSON.stringify(a.body));
      assert.equal(a.body.success, false);
      assert.equal(typeof a.body.error, 'string');
      assert.match(String(a.body.msg), msg);
    };

    it('refuses an upload form of many unknown fields at its first, while the client is still sending', async () => {
      // The shape of the attack: many unique 16 KB fields, no token, no file, streamed without an end.
      const fields = Array.from({ length: 64 }, (_, i) => chunk(field(`f${i}`, 'x'.repeat(16 * 1024))));
      // The rest of the body is not read: the answer closes the connection.
      vastRefusal(await sendPart(g, uploadHead('chunked'), Buffer.concat(fields), { untilClosed: true }), 400, /unknown field 'f0'/);
      // A declared length just under the cap (512 MiB by default) is refused alike.
      const declared = Buffer.concat([field('key', '1/abc'), field('surprise', 'x'.repeat(16 * 1024))]);
      vastRefusal(await sendPart(g, uploadHead(500 * 1024 * 1024), declared, { untilClosed: true }), 400, /unknown field 'surprise'/);
    });

    it('reads at most 4 KiB of a known field, each field once', async () => {
      vastRefusal(await sendPart(g, uploadHead(100 * 1024 * 1024), field('key', 'k'.repeat(64 * 1024))), 400, /longer than 4096 bytes/);
      vastRefusal(await sendPart(g, uploadHead(100 * 1024 * 1024), Buffer.concat([field('key', 'a'), field('key', 'b')])), 400, /repeats its 'key' field/);
    });

    it('checks the token before reading the file part', async () => {
      const fileStart = Buffer.concat([
        Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="f.tar.gz"\r\n\r\n`),
        Buffer.alloc(1024),
      ]);
      const forged = Buffer.concat([field('key', '1/abc'), field('token', 'eyJ0IjoidXBsb2FkIn0.c2lnbmF0dXJl'), fileStart]);
      vastRefusal(await sendPart(g, uploadHead(100 * 1024 * 1024), forged), 403, /signature does not match/);
      vastRefusal(await sendPart(g, uploadHead(100 * 1024 * 1024), Buffer.concat([field('key', '1/abc'), fileStart])), 403, /no 'token' field/);
    });

    it('refuses a large unauthenticated model definition or vocabulary with 401 in Elastic shape before reading it', async () => {
      const declared = 50 * 1024 * 1024;
      for (const path of ['/_ml/trained_models/m1/definition/0', '/_ml/trained_models/m1/vocabulary']) {
        const head = `PUT ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${declared}\r\n\r\n`;
        const a = await sendPart(g, head, `{"definition":"${'A'.repeat(64 * 1024)}`);
        assert.equal(a.status, 401, `${path}: ${JSON.stringify(a.body)}`);
        assert.equal(a.body.status, 401);
        assert.equal(a.body.error.type, 'security_exception');
        assert.match(a.body.error.reason, /missing authentication credentials/);
        assert.ok(a.headers.get('www-authenticate') !== undefined, 'a 401 names the schemes it accepts');
        assert.equal(a.headers.get('x-elastic-product'), 'Elasticsearch');
      }
      const forged = `PUT /_ml/trained_models/m1/definition/0 HTTP/1.1\r\nHost: x\r\nAuthorization: ApiKey gnt_not_a_key\r\nContent-Type: application/json\r\nContent-Length: ${declared}\r\n\r\n`;
      const b = await sendPart(g, forged, '{"definition":"');
      assert.equal(b.status, 401, JSON.stringify(b.body));
      assert.equal(b.body.error.type, 'security_exception');
    });

    it('answers every dialect 401 in its own shape before reading a large body', async () => {
      const head = (method: string, path: string, auth: string | null): string =>
        `${method} ${path} HTTP/1.1\r\nHost: x\r\n${auth !== null ? `Authorization: ${auth}\r\n` : ''}Content-Type: application/json\r\nContent-Length: ${1024 * 1024 * 1024}\r\n\r\n`;
      // Vast: a key in the body is read once parsed (its serverless client sends it so), a key in the headers before.
      const vast = await sendPart(g, head('PUT', '/api/v0/asks/1/', 'Bearer gnt_not_a_key'), '{"image":"');
      assert.equal(vast.status, 401, JSON.stringify(vast.body));
      assert.equal(vast.body.success, false);
      const aicore = await sendPart(g, head('POST', '/v2/lm/configurations', null), '{"name":"');
      assert.equal(aicore.status, 401, JSON.stringify(aicore.body));
      assert.equal(typeof aicore.body.error.code, 'string');
      assert.equal(typeof aicore.body.error.requestId, 'string');
      const console = await sendPart(g, head('POST', '/console/api/host_tokens', null), '{"name":"');
      assert.equal(console.status, 401, JSON.stringify(console.body));
      assert.equal(console.body.error.code, 'UNAUTHENTICATED');
      assert.equal(typeof console.body.error.request_id, 'string');
      assert.ok(console.headers.get('content-security-policy') !== undefined, "the console's own headers are on its 401 too");
    });

    it('still serves requests afterwards', async () => {
      assert.equal((await g.api('GET', '/api/v0/users/current/')).status, 200);
    });
  });
}
