/**
 * The grid's settings in the page URL's query string, so a URL reopens the same view:
 * `sort` (CREATED_AT, UPDATED_AT, ORDER_ID), `dir` (ASC, DESC), `state`, `currency`, `customer`,
 * and the paging knobs `pageSize` (rows per page read, 10-500) and `windowRows` (rows held at
 * most, at least 3 pages). Unknown or out-of-range values fall back to the defaults.
 */
import type { GridSettings } from './controller.ts';
import { ORDER_STATES, SORT_FIELDS, type SortField } from './rows.ts';

export const DEFAULT_SETTINGS: GridSettings = {
  sort: { field: 'CREATED_AT', direction: 'DESC' },
  filter: { state: '', currency: '', customerId: '' },
  pageSize: 100,
  windowRows: 600,
};

function bounded(text: string | null, low: number, high: number, fallback: number): number {
  const value = Number(text);
  return text !== null && Number.isInteger(value) && value >= low && value <= high ? value : fallback;
}

export function settingsFromQuery(search: string): GridSettings {
  const params = new URLSearchParams(search);
  const field = params.get('sort') ?? '';
  const state = params.get('state') ?? '';
  const pageSize = bounded(params.get('pageSize'), 10, 500, DEFAULT_SETTINGS.pageSize);
  return {
    sort: {
      field: (SORT_FIELDS as readonly string[]).includes(field) ? (field as SortField) : DEFAULT_SETTINGS.sort.field,
      direction: params.get('dir') === 'ASC' ? 'ASC' : params.get('dir') === 'DESC' ? 'DESC' : DEFAULT_SETTINGS.sort.direction,
    },
    filter: {
      state: (ORDER_STATES as readonly string[]).includes(state) ? state : '',
      currency: (params.get('currency') ?? '').trim().toUpperCase(),
      customerId: (params.get('customer') ?? '').trim(),
    },
    pageSize,
    windowRows: bounded(params.get('windowRows'), pageSize * 3, 10_000, Math.max(pageSize * 3, DEFAULT_SETTINGS.windowRows)),
  };
}

/** The query string of `settings`, without the values that are the defaults. */
export function settingsToQuery(settings: GridSettings): string {
  const params = new URLSearchParams();
  if (settings.sort.field !== DEFAULT_SETTINGS.sort.field) params.set('sort', settings.sort.field);
  if (settings.sort.direction !== DEFAULT_SETTINGS.sort.direction) params.set('dir', settings.sort.direction);
  if (settings.filter.state) params.set('state', settings.filter.state);
  if (settings.filter.currency) params.set('currency', settings.filter.currency);
  if (settings.filter.customerId) params.set('customer', settings.filter.customerId);
  if (settings.pageSize !== DEFAULT_SETTINGS.pageSize) params.set('pageSize', String(settings.pageSize));
  if (settings.windowRows !== Math.max(settings.pageSize * 3, DEFAULT_SETTINGS.windowRows)) params.set('windowRows', String(settings.windowRows));
  const text = params.toString();
  return text ? `?${text}` : '';
}
