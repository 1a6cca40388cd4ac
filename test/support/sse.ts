/** Reading a `text/event-stream` response in tests. */
import { expect } from 'vitest';

export interface SseText {
  /** The text read so far. */
  readonly text: string;
  /** Reads until the text contains `needle` (at most `timeoutMs`), then asserts it does. */
  readUntil(needle: string, timeoutMs?: number): Promise<void>;
}

export function sseText(response: Response): SseText {
  const reader = response.body!.getReader();
  let text = '';
  return {
    get text() {
      return text;
    },
    async readUntil(needle, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (!text.includes(needle) && Date.now() < deadline) {
        const { value, done } = await reader.read();
        if (done) break;
        text += Buffer.from(value).toString('utf8');
      }
      expect(text).toContain(needle);
    },
  };
}
