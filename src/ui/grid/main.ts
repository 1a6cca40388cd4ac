/**
 * Entry point of the grid page (`/grid`): binds the toolbar (sort, filters, client token, reload)
 * to the grid controller and shows its status. Every URL is relative to the page, so the page
 * works on one instance and behind a load balancer alike.
 *
 * The state of the grid is also on `#grid` as data attributes (`data-phase`, `data-reading`, `data-generation`,
 * `data-rows`, `data-has-previous`, `data-has-next`, `data-total`, `data-live`), for scripts and tests.
 */
import { createApi } from './api.ts';
import { createGridController, type GridController, type GridSettings, type GridStatus } from './controller.ts';
import { createGridView } from './grid-view.ts';
import { subscriptionUrl } from './live.ts';
import { describeAge, describeOffsets } from './offsets.ts';
import { settingsFromQuery, settingsToQuery } from './settings.ts';
import type { SortDirection, SortField } from './rows.ts';

const TOKEN_KEY = 'gateway.clientToken';

const element = <T extends HTMLElement>(id: string): T => {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found as T;
};

const grid = element<HTMLElement>('grid');
const sortField = element<HTMLSelectElement>('sort-field');
const sortDirection = element<HTMLSelectElement>('sort-direction');
const stateFilter = element<HTMLSelectElement>('filter-state');
const currencyFilter = element<HTMLInputElement>('filter-currency');
const customerFilter = element<HTMLInputElement>('filter-customer');
const tokenField = element<HTMLInputElement>('token');
const total = element<HTMLElement>('total');
const loaded = element<HTMLElement>('loaded');
const live = element<HTMLElement>('live');
const freshness = element<HTMLElement>('freshness');
const problem = element<HTMLElement>('error');

tokenField.value = sessionStorage.getItem(TOKEN_KEY) ?? '';
const token = () => tokenField.value.trim() || undefined;

let settings: GridSettings = settingsFromQuery(location.search);
let status: GridStatus | undefined;

const showFreshness = () => {
  if (!status || status.offsetsAt === undefined) return;
  const offsets = describeOffsets(status.offsets);
  freshness.textContent = `as of offsets ${offsets}, ${describeAge(Date.now() - status.offsetsAt)}`;
  freshness.title = `Applied offsets (next offset per topic and partition) of the newest read or live change: ${offsets}`;
};

const render = (next: GridStatus) => {
  status = next;
  Object.assign(grid.dataset, {
    phase: next.phase,
    reading: String(next.reading),
    generation: String(next.generation),
    rows: String(next.rows),
    hasPrevious: String(next.hasPrevious),
    hasNext: String(next.hasNext),
    total: next.totalCount === undefined ? '' : String(next.totalCount),
    live: next.live,
  });
  total.textContent = next.totalCount === undefined ? 'counting…' : `${next.totalCount.toLocaleString('en')} orders`;
  loaded.textContent = `${next.rows} held${next.hasPrevious ? ', more above' : ''}${next.hasNext ? ', more below' : ''}`;
  live.dataset['live'] = next.live;
  live.textContent =
    next.live === 'live'
      ? `live${next.liveChanges ? `: ${next.liveChanges} ${next.liveChanges === 1 ? 'change' : 'changes'} applied` : ''}`
      : `${next.live}${next.liveDetail ? `: ${next.liveDetail}` : ''}`;
  problem.textContent = next.error ?? '';
  showFreshness();
};

// The view reports the rows in view from its first render on, before the controller exists.
let controller: GridController | undefined;
const view = createGridView({
  header: element('grid-header'),
  scroll: element('grid-scroll'),
  body: element('grid-body'),
  onRange: (first, last) => controller?.inView(first, last),
  onUserMove: () => controller?.userMoved(),
});
const grids = createGridController({
  api: createApi({ endpoint: new URL('graphql', location.href).toString(), token }),
  view,
  liveUrl: subscriptionUrl(location.href),
  token,
  render,
});
controller = grids;

const showSettings = () => {
  sortField.value = settings.sort.field;
  sortDirection.value = settings.sort.direction;
  stateFilter.value = settings.filter.state;
  currencyFilter.value = settings.filter.currency;
  customerFilter.value = settings.filter.customerId;
};

const apply = () => {
  settings = {
    ...settings,
    sort: { field: sortField.value as SortField, direction: sortDirection.value as SortDirection },
    filter: { state: stateFilter.value, currency: currencyFilter.value.trim().toUpperCase(), customerId: customerFilter.value.trim() },
  };
  history.replaceState(null, '', `${location.pathname}${settingsToQuery(settings)}`);
  grids.load(settings);
};

for (const control of [sortField, sortDirection, stateFilter, currencyFilter, customerFilter]) control.addEventListener('change', apply);
tokenField.addEventListener('change', () => {
  if (token()) sessionStorage.setItem(TOKEN_KEY, token()!);
  else sessionStorage.removeItem(TOKEN_KEY);
  grids.load(settings);
});
element('reload').addEventListener('click', () => grids.load(settings));
setInterval(showFreshness, 500);

showSettings();
grids.load(settings);
