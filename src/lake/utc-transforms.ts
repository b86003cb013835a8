import {
  BIGINT,
  DATE,
  DuckDBScalarFunction,
  TIMESTAMPTZ,
  VARCHAR,
  type DuckDBBigIntVector,
  type DuckDBConnection,
  type DuckDBDateVector,
  type DuckDBTimestampTZVector,
  type DuckDBVarCharVector,
} from '@duckdb/node-api';

const MICROS_PER_DAY = 86_400_000_000n;

/** Whole days from 1970-01-01 UTC to a timestamp in microseconds (rounded down). */
export function utcDay(micros: bigint): bigint {
  return micros >= 0n ? micros / MICROS_PER_DAY : -((-micros + MICROS_PER_DAY - 1n) / MICROS_PER_DAY);
}

/** Months from 1970-01 to the UTC month of `days` days after 1970-01-01 (proleptic Gregorian). */
export function utcMonth(days: bigint): number {
  // Civil date from a day count (Howard Hinnant's algorithm, in era arithmetic).
  const z = Number(days) + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const month = mp < 10 ? mp + 3 : mp - 9; // 1..12
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return (year - 1970) * 12 + (month - 1);
}

/** Rows whose partition values this session computed (the iceberg extension calls us, not ICU). */
export const utcTransformStats = { rows: 0 };

type Part = 'day' | 'month' | 'year';
const PARTS: Record<string, Part> = { day: 'day', days: 'day', month: 'month', months: 'month', year: 'year', years: 'year' };

/** date_diff(part, start, ts) for the parts Iceberg's transforms use, in UTC. */
export function utcDateDiff(part: Part, startDays: number, micros: bigint): bigint {
  const days = utcDay(micros);
  if (part === 'day') return days - BigInt(startDays);
  const from = utcMonth(BigInt(startDays));
  const to = utcMonth(days);
  if (part === 'month') return BigInt(to - from);
  return BigInt(Math.floor(to / 12) - Math.floor(from / 12));
}

/**
 * Makes Iceberg's day, month and year partition values of a timestamptz column cheap to compute
 * on this connection.
 *
 * The iceberg extension computes them, for every row it writes, as
 * `date_diff('day', DATE '1970-01-01', "timestamp")`, and for a TIMESTAMPTZ that binds ICU's
 * calendar date_diff, the dearest expression of the whole commit. This registers an
 * overload `date_diff(VARCHAR, DATE, TIMESTAMPTZ)` that matches those arguments exactly, so it
 * wins the binding over ICU's (which needs the DATE cast), and computes the value by integer
 * arithmetic in UTC, as the Iceberg spec defines the transforms (docs/benchmarks.md has the
 * figures): the same values ICU gives with TimeZone 'UTC' (the lake session's zone). Other parts are refused with
 * an error rather than answered differently from ICU; nothing else in the appender's session
 * calls date_diff on these types.
 */
export function registerUtcTransforms(connection: DuckDBConnection): void {
  connection.registerScalarFunction(
    DuckDBScalarFunction.create({
      name: 'date_diff',
      returnType: BIGINT,
      parameterTypes: [VARCHAR, DATE, TIMESTAMPTZ],
      mainFunction: (info, input, output) => {
        const parts = input.getColumnVector(0) as DuckDBVarCharVector;
        const starts = input.getColumnVector(1) as DuckDBDateVector;
        const stamps = input.getColumnVector(2) as DuckDBTimestampTZVector;
        const out = output as DuckDBBigIntVector;
        let lastName: string | null = null;
        let part: Part | undefined;
        for (let i = 0; i < input.rowCount; i++) {
          const name = parts.getItem(i);
          const start = starts.getItem(i);
          const stamp = stamps.getItem(i);
          if (name === null || start === null || stamp === null) {
            out.setItem(i, null);
            continue;
          }
          if (name !== lastName) {
            lastName = name;
            part = PARTS[name.toLowerCase()];
            if (!part) {
              info.setError(`date_diff(VARCHAR, DATE, TIMESTAMPTZ): part '${name}' is not supported in the appender's session (day, month, year)`);
              return;
            }
          }
          out.setItem(i, utcDateDiff(part!, start.days, stamp.micros));
        }
        out.flush();
        utcTransformStats.rows += input.rowCount;
      },
    }),
  );
}
