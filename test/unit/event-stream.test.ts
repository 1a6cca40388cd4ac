import { describe, expect, it } from 'vitest';
import { createEventStream } from '../../src/subscriptions/stream.ts';

interface Event {
  n: number;
  token: string;
  overflow?: boolean;
}

function stream(capacity: number, stallMs = 50) {
  let closed = 0;
  const s = createEventStream<Event>({
    capacity,
    stallMs,
    tokenOf: (event) => event.token,
    overflowEvent: (token) => ({ n: -1, token: token ?? 'none', overflow: true }),
    onClose: () => {
      closed++;
    },
  });
  return { s, closed: () => closed };
}

const event = (n: number): Event => ({ n, token: `t${n}` });

describe('event stream', () => {
  it('delivers pushed events in order to a waiting or later reader', async () => {
    const { s } = stream(10);
    const waiting = s.next();
    s.push(event(1));
    s.push(event(2));
    expect((await waiting).value).toEqual(event(1));
    expect((await s.next()).value).toEqual(event(2));
  });

  it('takes a burst beyond capacity from a reader that keeps pulling', async () => {
    const { s } = stream(3, 1000);
    for (let n = 0; n < 20; n++) expect(s.push(event(n))).toBe(true); // 20 < 10 x capacity, reader active
    const got = [];
    for (let n = 0; n < 20; n++) got.push((await s.next()).value.n);
    expect(got).toEqual([...Array(20).keys()]);
  });

  it('cuts off a stalled reader with the token of the last event it received, even when no more events come', async () => {
    const { s, closed } = stream(3, 30);
    s.push(event(1));
    expect((await s.next()).value).toEqual(event(1));
    for (let n = 2; n <= 5; n++) s.push(event(n));
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(s.push(event(6))).toBe(false);
    const last = await s.next();
    expect(last.value).toEqual({ n: -1, token: 't1', overflow: true });
    expect(await s.next()).toEqual({ value: undefined, done: true });
    expect(closed()).toBe(1);
  });

  it('caps the queue at ten times capacity whatever the pace', async () => {
    const { s } = stream(2, 60_000);
    let accepted = 0;
    for (let n = 0; n < 100; n++) if (s.push(event(n))) accepted++;
    expect(accepted).toBe(20);
    expect((await s.next()).value.overflow).toBe(true);
  });

  it('return() ends the stream and runs onClose once', async () => {
    const { s, closed } = stream(5);
    const waiting = s.next();
    await s.return!();
    expect(await waiting).toEqual({ value: undefined, done: true });
    expect(s.push(event(1))).toBe(false);
    await s.return!();
    expect(closed()).toBe(1);
  });
});
