/**
 * The grid's columns as TanStack Table column definitions: the order, its customer (name, tier,
 * country) and its payments (how many, the latest one's status and amount). Each column says how
 * wide it is and how its value is shown; sorting and filtering happen in the gateway.
 */
import { constructTable, createColumnHelper, tableFeatures, type Table } from '@tanstack/table-core';
import { storeReactivityBindings } from '@tanstack/table-core/store-reactivity-bindings';
import type { OrderRow } from './rows.ts';

export const features = tableFeatures({ coreReactivityFeature: storeReactivityBindings() });
export type GridTable = Table<typeof features, OrderRow>;

/** How a column is laid out and shown: `width` in pixels, `align` of its text. */
export interface ColumnLayout {
  readonly width: number;
  readonly align?: 'right';
  readonly format?: (value: unknown) => string;
}

const helper = createColumnHelper<typeof features, OrderRow>();
const latestPayment = (row: OrderRow) => row.payments[row.payments.length - 1];
/** `2026-11-14T08:12:33.120Z` shown as `2026-11-14 08:12:33` (UTC). */
const timestamp = (value: unknown) =>
  String(value ?? '')
    .replace('T', ' ')
    .slice(0, 19);
const money = (value: unknown) => (typeof value === 'number' ? value.toFixed(2) : '');

export const LAYOUT: Record<string, ColumnLayout> = {
  orderId: { width: 150 },
  state: { width: 96 },
  product: { width: 200 },
  quantity: { width: 48, align: 'right' },
  unitPrice: { width: 88, align: 'right', format: money },
  currency: { width: 56 },
  customerName: { width: 150 },
  tier: { width: 84 },
  country: { width: 60 },
  paymentCount: { width: 60, align: 'right' },
  paymentStatus: { width: 92 },
  paymentAmount: { width: 92, align: 'right', format: money },
  createdAt: { width: 172, format: timestamp },
  updatedAt: { width: 172, format: timestamp },
};

const columns = helper.columns([
  helper.accessor('orderId', { id: 'orderId', header: 'Order' }),
  helper.accessor('state', { id: 'state', header: 'State' }),
  helper.accessor('product', { id: 'product', header: 'Product' }),
  helper.accessor('quantity', { id: 'quantity', header: 'Qty' }),
  helper.accessor('unitPrice', { id: 'unitPrice', header: 'Price' }),
  helper.accessor('currency', { id: 'currency', header: 'Cur.' }),
  helper.accessor((row) => row.customer?.name ?? '', { id: 'customerName', header: 'Customer' }),
  helper.accessor((row) => row.customer?.tier ?? '', { id: 'tier', header: 'Tier' }),
  helper.accessor((row) => row.customer?.country ?? '', { id: 'country', header: 'Ctry' }),
  helper.accessor((row) => row.payments.length, { id: 'paymentCount', header: 'Pays' }),
  helper.accessor((row) => latestPayment(row)?.status ?? '', { id: 'paymentStatus', header: 'Payment' }),
  helper.accessor((row) => latestPayment(row)?.amount, { id: 'paymentAmount', header: 'Amount' }),
  helper.accessor('createdAt', { id: 'createdAt', header: 'Created (UTC)' }),
  helper.accessor('updatedAt', { id: 'updatedAt', header: 'Updated (UTC)' }),
]);

/** The table over `rows`; give it new rows with `table.setOptions`. */
export function createGridTable(rows: readonly OrderRow[]): GridTable {
  return constructTable({ features, columns, data: rows as OrderRow[], getRowId: (row) => row.orderId });
}

/** A cell's text as its column shows it. */
export function cellText(columnId: string, value: unknown): string {
  const format = LAYOUT[columnId]?.format;
  return format ? format(value) : value === undefined || value === null ? '' : String(value);
}
