import { describe, expect, it } from 'vitest';
import { answerType } from '../../src/server/fast-path.ts';

describe('fast path: the answer type yoga would choose', () => {
  it.each([
    [undefined, 'application/json'],
    ['', 'application/json'],
    ['application/json', 'application/json'],
    ['application/json; charset=utf-8', 'application/json'],
    ['*/*', 'application/json'],
    ['application/graphql-response+json, application/json', 'application/graphql-response+json'],
    ['Application/GraphQL-Response+JSON', 'application/graphql-response+json'],
  ])('%j -> %s', (accept, type) => {
    expect(answerType(accept)).toBe(type);
  });

  it.each([
    'text/event-stream',
    'multipart/mixed',
    'text/html, application/json',
    'application/json;q=0.5, application/graphql-response+json',
    'application/*',
  ])('leaves %j to yoga', (accept) => {
    expect(answerType(accept)).toBeUndefined();
  });
});

describe('fast path: answer types remembered per Accept header', () => {
  it('answers a header the same each time, and headers past the remembered ones still right', () => {
    for (let round = 0; round < 3; round++) {
      expect(answerType('application/json')).toBe('application/json');
      expect(answerType('text/event-stream')).toBeUndefined();
    }
    // A flood of distinct headers: each is still read, none changes another's answer.
    for (let i = 0; i < 500; i++) {
      expect(answerType(`application/json; x=${i}`)).toBe('application/json');
      expect(answerType(`text/html; x=${i}`)).toBeUndefined();
      expect(answerType(`application/graphql-response+json; x=${i}`)).toBe('application/graphql-response+json');
    }
    expect(answerType('application/json;q=0.5, application/graphql-response+json')).toBeUndefined();
    expect(answerType(` ${'x'.repeat(10_000)}`)).toBeUndefined();
    expect(answerType('  ')).toBe('application/json');
  });
});
