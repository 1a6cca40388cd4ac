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
