/**
 * The one timestamp rule, shared by ingest and query arguments: an ISO-8601 calendar date and
 * time with an explicit zone (`Z` or `±hh:mm`), a real calendar day, normalized to UTC
 * `toISOString()` form so string order is time order. Anything else is rejected, not guessed
 * (a zone-less string would otherwise be read in the server's local zone).
 */
const ISO_TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,9})?)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$/;

// Already in normalized form (what producers usually send): checked without building a Date.
const CANONICAL = /^(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$/;
const DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** The normalized form, or undefined when `value` is not such a timestamp. */
export function parseTimestamp(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const canonical = CANONICAL.exec(value);
  if (canonical) {
    const year = Number(canonical[1]);
    const month = Number(canonical[2]);
    const day = Number(canonical[3]);
    const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
    return day <= DAYS[month - 1]! && (month !== 2 || day <= (leap ? 29 : 28)) ? value : undefined;
  }
  const match = ISO_TIMESTAMP.exec(value);
  if (!match) return undefined;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const calendar = new Date(Date.UTC(year, month - 1, day));
  if (calendar.getUTCMonth() !== month - 1 || calendar.getUTCDate() !== day) return undefined; // 2026-02-30
  const time = Date.parse(value);
  return Number.isNaN(time) ? undefined : new Date(time).toISOString();
}
