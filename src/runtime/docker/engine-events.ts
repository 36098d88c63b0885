import type Docker from 'dockerode';
import { LABEL_INSTANCE, LABEL_RUNTIME } from './labelled.js';

/** Between a dropped or unanswered subscription and the next. */
const AGAIN_MS = 1_000;

type EventStream = NodeJS.ReadableStream & { destroy?: () => void; socket?: { unref?: () => void } };

/**
 * The engine's container deaths of one runtime, as hints for the reconciler (listings catch what they miss).
 * Subscribed again when the engine drops the stream, and when it does not answer the subscription within
 * `answerMs`: an engine that took the request and never answered left the agent without hints for good.
 */
export class EngineEvents {
  readonly #docker: Docker;
  readonly #runtimeId: string;
  readonly #answerMs: number;
  readonly #died: (instanceId: number) => void;
  #stream: EventStream | null = null;
  #asking: AbortController | null = null;
  #closed = false;

  constructor(docker: Docker, runtimeId: string, answerMs: number, died: (instanceId: number) => void) {
    this.#docker = docker;
    this.#runtimeId = runtimeId;
    this.#answerMs = answerMs;
    this.#died = died;
  }

  watch(): void {
    if (this.#closed) return;
    const asking = (this.#asking = new AbortController());
    const late = setTimeout(() => asking.abort(), this.#answerMs);
    late.unref();
    const again = (): void => {
      this.#stream = null;
      if (!this.#closed) setTimeout(() => this.watch(), AGAIN_MS).unref();
    };
    this.#docker
      .getEvents({ filters: { type: ['container'], label: [`${LABEL_RUNTIME}=${this.#runtimeId}`] }, abortSignal: asking.signal })
      .then((s) => {
        clearTimeout(late);
        const stream = s as EventStream;
        // Closed while the engine answered: nothing else would end this stream (or its listeners' exits).
        if (this.#closed) return void stream.destroy?.();
        this.#stream = stream;
        // A hint stream must not keep the process alive on its own.
        stream.socket?.unref?.();
        let rest = '';
        stream.on('data', (chunk: Buffer) => {
          const lines = (rest + chunk.toString('utf8')).split('\n');
          rest = lines.pop() ?? '';
          for (const line of lines) this.#onEvent(line);
        });
        stream.on('end', again);
        stream.on('error', again);
      })
      .catch(() => {
        clearTimeout(late);
        again();
      });
  }

  #onEvent(line: string): void {
    if (line.trim() === '') return;
    try {
      const ev = JSON.parse(line) as { status?: string; Action?: string; Actor?: { Attributes?: Record<string, string> } };
      const action = ev.Action ?? ev.status;
      if (action !== 'die' && action !== 'died') return;
      const id = Number(ev.Actor?.Attributes?.[LABEL_INSTANCE]);
      if (Number.isSafeInteger(id) && id > 0) this.#died(id);
    } catch {
      // not an event line
    }
  }

  close(): void {
    this.#closed = true;
    this.#asking?.abort();
    this.#stream?.destroy?.();
    this.#stream = null;
  }
}
