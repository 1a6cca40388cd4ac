/**
 * Turns a Kafka record into a view row, or into a rejection with a code and a reason that names
 * what was expected and what arrived. Only declared fields are kept (producers may add fields
 * ahead of the view declaration); timestamps are normalized to `toISOString()` form so that their
 * string order is their time order.
 */
import type { ErrorCode } from '../errors.ts';
import type { Row } from '../store/view-store.ts';
import type { FieldModel, ViewModel } from '../views/model.ts';
import { parseTimestamp } from '../views/timestamp.ts';

export type Decoded =
  | { readonly ok: true; readonly key: string; readonly row: Row | null }
  | { readonly ok: false; readonly code: ErrorCode; readonly reason: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'number') return `number ${value}`;
  return typeof value;
}

class Rejection {
  readonly reason: string;
  constructor(reason: string) {
    this.reason = reason;
  }
}

/** Returns the normalized value, or a Rejection saying what was expected and what arrived. */
function checkField(field: FieldModel, value: unknown): unknown {
  const type = field.type;
  if (typeof type === 'object') {
    if (typeof value === 'string' && field.enumValues!.has(value)) return value;
    return new Rejection(`${field.name}: expected one of ${type.values.join(', ')}, got ${describe(value)}`);
  }
  switch (type) {
    case 'id':
    case 'string':
      if (typeof value !== 'string') return new Rejection(`${field.name}: expected a string, got ${describe(value)}`);
      if (type === 'id' && value.length === 0) return new Rejection(`${field.name}: expected a non-empty id`);
      if (field.pattern && !field.pattern.test(value))
        return new Rejection(`${field.name}: expected to match ${field.pattern}, got ${describe(value)}`);
      return value;
    case 'int':
      if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
      return new Rejection(`${field.name}: expected an integer, got ${describe(value)}`);
    case 'float':
      if (typeof value === 'number' && Number.isFinite(value)) return value;
      return new Rejection(`${field.name}: expected a number, got ${describe(value)}`);
    case 'boolean':
      if (typeof value === 'boolean') return value;
      return new Rejection(`${field.name}: expected a boolean, got ${describe(value)}`);
    case 'timestamp':
      return parseTimestamp(value) ?? new Rejection(`${field.name}: expected an ISO-8601 timestamp with zone, got ${describe(value)}`);
  }
}

export function decodeRecord(view: ViewModel, key: Buffer | null, value: Buffer | null): Decoded {
  if (key === null) return { ok: false, code: 'GW_RECORD_INVALID', reason: 'record has no key; view topics are keyed' };
  let keyText: string;
  try {
    keyText = utf8.decode(key);
  } catch {
    return { ok: false, code: 'GW_RECORD_MALFORMED', reason: 'record key is not valid UTF-8' };
  }
  if (keyText.length === 0) return { ok: false, code: 'GW_RECORD_INVALID', reason: 'record key is empty' };
  if (value === null) return { ok: true, key: keyText, row: null };

  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(value));
  } catch (error) {
    const detail = error instanceof SyntaxError ? error.message : 'not valid UTF-8';
    return { ok: false, code: 'GW_RECORD_MALFORMED', reason: `value is not UTF-8 JSON: ${detail}` };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return { ok: false, code: 'GW_RECORD_MALFORMED', reason: `value must be a JSON object, got ${describe(parsed)}` };
  }
  const input = parsed as Record<string, unknown>;
  const row: Row = {};
  for (const field of view.fields) {
    const raw = input[field.name];
    if (raw === undefined || raw === null) {
      if (field.required) return { ok: false, code: 'GW_RECORD_INVALID', reason: `${field.name}: required field is missing` };
      continue;
    }
    const checked = checkField(field, raw);
    if (checked instanceof Rejection) return { ok: false, code: 'GW_RECORD_INVALID', reason: checked.reason };
    row[field.name] = checked;
  }
  if (row[view.keyField] !== keyText) {
    return {
      ok: false,
      code: 'GW_RECORD_INVALID',
      reason: `${view.keyField}: must equal the record key ${JSON.stringify(keyText)}, got ${describe(row[view.keyField])}`,
    };
  }
  return { ok: true, key: keyText, row };
}
