import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ChunkedEnd, MAX_HEAD_BYTES, readRequestHead, readResponseHead } from '../../src/gateway/wire-http.js';
import { WORKER_ANSWER_LINES } from '../../src/gateway/worker-answer-headers.js';

const req = (s: string): ReturnType<typeof readRequestHead> => readRequestHead(Buffer.from(s, 'latin1'));

describe('wire path: request heads', () => {
  it('reads a plain request: what it forwards and what it keeps for itself', () => {
    const text =
      'POST /endpoints/e/x?y=1 HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer k\r\nContent-Length: 4\r\nX-Gantry-Cost: 2\r\nX-Gantry-Signature: forged\r\nAccept: */*\r\nConnection: keep-alive\r\n\r\nbody';
    const h = req(text);
    assert.ok(h !== null && h !== 'incomplete');
    assert.equal(h.method, 'POST');
    assert.equal(h.target, '/endpoints/e/x?y=1');
    assert.equal(h.contentLength, 4);
    assert.equal(h.authorization, 'Bearer k');
    assert.equal(h.cost, '2');
    assert.equal(h.close, false);
    assert.equal(h.forward, 'Accept: */*\r\n', "hop headers, the caller's key and Gantry's own headers are not forwarded");
    assert.equal(h.headBytes, text.length - 'body'.length);
    assert.equal(h.contentLength, 4);
  });

  it('waits for the blank line, and gives up past the head limit', () => {
    assert.equal(req('GET /endpoints/e HTTP/1.1\r\nHost: gw\r\n'), 'incomplete');
    assert.equal(req(`GET /endpoints/e HTTP/1.1\r\nHost: gw\r\nX-Big: ${'a'.repeat(MAX_HEAD_BYTES)}`), null);
  });

  it('leaves every ambiguous or unusual request to the full server', () => {
    const refused = [
      'GET /endpoints/e HTTP/1.0\r\nHost: gw\r\n\r\n', // not 1.1
      'HEAD /endpoints/e HTTP/1.1\r\nHost: gw\r\n\r\n', // an answer without its body
      'CONNECT gw:80 HTTP/1.1\r\nHost: gw\r\n\r\n',
      'GET http://gw/endpoints/e HTTP/1.1\r\nHost: gw\r\n\r\n', // absolute form
      'GET /endpoints/e HTTP/1.1\r\n\r\n', // no Host
      'GET /endpoints/e HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n',
      'POST /endpoints/e HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n',
      'POST /endpoints/e HTTP/1.1\r\nHost: gw\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n',
      'POST /endpoints/e HTTP/1.1\r\nHost: gw\r\nContent-Length: +3\r\n\r\n',
      'POST /endpoints/e HTTP/1.1\r\nHost: gw\r\nContent-Length: 3\t\r\n\r\n', // a tab after a length: Node refuses it
      'POST /endpoints/e HTTP/1.1\r\nHost: gw\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n',
      'GET /endpoints/e HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
      'GET /endpoints/e HTTP/1.1\r\nHost: gw\r\nX-A: 1\r\n folded\r\n\r\n', // obs-fold
      'GET /endpoints/e HTTP/1.1\r\nHost: gw\r\nBad Name: 1\r\n\r\n',
      'GET /endpoints/e HTTP/1.1\r\nHost: gw\r\nX-A: a\x00b\r\n\r\n',
      'GET /endpoints/e HTTP/1.1\r\nHost: gw\r\nX-A: a\nX-B: b\r\n\r\n', // a bare LF
      'GET /endpoints/é HTTP/1.1\r\nHost: gw\r\n\r\n',
      'GET  /endpoints/e HTTP/1.1\r\nHost: gw\r\n\r\n',
      'GET /endpoints/e HTTP/1.1\r\nHost: gw\r\nAuthorization: a\r\nAuthorization: b\r\n\r\n',
    ];
    for (const r of refused) assert.equal(req(r), null, JSON.stringify(r));
  });

  it('notes a caller that asks to close, and no content-length as -1', () => {
    const h = req('DELETE /endpoints/e/x HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n');
    assert.ok(h !== null && h !== 'incomplete');
    assert.equal(h.close, true);
    assert.equal(h.contentLength, -1);
  });
});

describe('wire path: answer heads', () => {
  const res = (s: string, from = 0): ReturnType<typeof readResponseHead> => readResponseHead(Buffer.from(s, 'latin1'), from);

  it('reads the framing and drops the hop headers from the head passed on', () => {
    const h = res('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\nhello');
    assert.ok(h !== null && h !== 'incomplete');
    assert.deepEqual(h.framing, { kind: 'length', bytes: 5 });
    assert.equal(h.close, false);
    assert.equal(h.head, `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5${WORKER_ANSWER_LINES}`);
    const chunked = res('HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n');
    assert.ok(chunked !== null && chunked !== 'incomplete');
    assert.deepEqual(chunked.framing, { kind: 'chunked' });
    assert.match(chunked.head, /Transfer-Encoding: chunked/, 'the chunks are passed on as they are, so is their header');
    const untilClose = res('HTTP/1.0 200 OK\r\nX: 1\r\n\r\n');
    assert.ok(untilClose !== null && untilClose !== 'incomplete');
    assert.deepEqual([untilClose.framing.kind, untilClose.close], ['close', true]);
    const none = res('HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n');
    assert.ok(none !== null && none !== 'incomplete');
    assert.deepEqual(none.framing, { kind: 'length', bytes: 0 });
    const closing = res('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    assert.ok(closing !== null && closing !== 'incomplete');
    assert.equal(closing.close, true);
  });

  it("never passes on what acts on the whole origin (the console's) or its own nosniff: its own policy is kept, a sandbox and nosniff added", () => {
    const h = res(
      'HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nService-Worker-Allowed: /\r\nClear-Site-Data: "storage"\r\nX-Content-Type-Options: none\r\nContent-Security-Policy: frame-ancestors \'self\'\r\nContent-Length: 0\r\n\r\n',
    );
    assert.ok(h !== null && h !== 'incomplete');
    assert.equal(
      h.head,
      "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Security-Policy: frame-ancestors 'self'\r\nContent-Length: 0\r\ncontent-security-policy: sandbox; default-src 'none'\r\nx-content-type-options: nosniff",
    );
  });

  it('refuses an answer whose length could be read two ways', () => {
    assert.equal(res('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n'), null);
    assert.equal(res('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n'), null);
    assert.equal(res('HTTP/1.1 200 OK\r\nContent-Length: 5 \t\r\n\r\n'), null);
    assert.deepEqual(
      (res('HTTP/1.1 200 OK\r\nContent-Length:\t5  \r\n\r\n') as { framing: unknown }).framing,
      { kind: 'length', bytes: 5 },
      'a tab before it, spaces after: as Node takes it',
    );
    assert.equal(res('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n'), null);
    assert.equal(res('HTTP/2 200\r\n\r\n'), null);
  });

  it('reads from an offset', () => {
    const h = res('xxHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 2);
    assert.ok(h !== null && h !== 'incomplete');
    assert.equal(h.headBytes, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'.length);
  });
});

describe('wire path: the end of a chunked answer', () => {
  const body = '5;ext=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: t\r\n\r\n';

  it('is found whatever the reads it arrives in', () => {
    const all = Buffer.from(`${body}NEXT`, 'latin1');
    for (let size = 1; size <= all.length; size++) {
      const c = new ChunkedEnd();
      let end = -1;
      let at = 0;
      for (let i = 0; i < all.length && end < 0; i += size) {
        const part = all.subarray(i, Math.min(all.length, i + size));
        const r = c.feed(part);
        assert.notEqual(r, -2, `size ${size}`);
        if (r >= 0) end = at + r;
        at += part.length;
      }
      assert.equal(end, body.length, `reads of ${size} bytes`);
    }
  });

  it('says when the framing is broken', () => {
    assert.equal(new ChunkedEnd().feed(Buffer.from('zz\r\n')), -2);
    assert.equal(new ChunkedEnd().feed(Buffer.from('2\r\nabX\r\n')), -2);
    assert.equal(new ChunkedEnd().feed(Buffer.from('2\nab\r\n')), -2);
  });
});
