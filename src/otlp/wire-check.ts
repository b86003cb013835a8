import { isUtf8 } from 'node:buffer';
import protobuf from 'protobufjs';
import { WireReader } from './wire-reader.js';

/**
 * A strict pass over protobuf wire data against a message type, before protobufjs decodes it.
 *
 * protobufjs is lenient where a receiver of untrusted input must not be: it decodes a known
 * field by its declared type whatever wire type the sender used, it turns invalid UTF-8 in
 * string fields into U+FFFD, and its recursive decoder has no depth limit of its own (pinned in
 * test/unit/otlp/wire-check.test.ts). This walk refuses, with the field path and byte offset:
 * truncated data, lengths past their enclosing message, wire types 3, 4, 6 and 7 (groups are not
 * proto3), a known field sent with the wrong wire type, invalid UTF-8 in a string field,
 * messages nested deeper than `maxDepth`, and more than `maxAttributes` KeyValues in one
 * message. Unknown fields are skipped, as protobuf requires. It allocates nothing per field.
 */

export class WireError extends Error {
  constructor(
    readonly problem: string,
    readonly at: number,
    /** field names from the request down to where the problem is */
    readonly path: string[],
  ) {
    super(problem);
  }
}

export interface WireLimits {
  /** message nesting levels below the request (AnyValue → KeyValueList → KeyValue → AnyValue is 3) */
  maxDepth: number;
  /** KeyValue entries in one message (its attributes, or the values of a kvlist) */
  maxAttributes: number;
}

/**
 * What makes one item of a request (a LogRecord, Span or Metric) acceptable, checked during the
 * walk so that a request whose items are all fine never needs a full decode.
 */
export interface ItemRules {
  type: protobuf.Type;
  /** bytes fields of a fixed size: empty allowed unless required */
  ids: { id: number; name: string; size: number; required: boolean }[];
  /** a string field that must not be empty (with the message when it is) */
  nonEmpty?: { id: number; problem: string };
  /** the oneof of message fields whose repeated field 1 is counted as the item's weight (metric data points); else weight 1 */
  weightFields?: number[];
}

/** What the walk found of the items. */
export interface ItemReport {
  items: number;
  /** sum of the valid items' weights */
  accepted: number;
  /** sum of max(1, weight) of the invalid items */
  rejected: number;
  firstProblem?: string;
  /** the walk could not judge the items exactly (e.g. a oneof set twice): decode instead */
  undecided: boolean;
  /** messages in the request, the request itself included: what a decode allocates objects for */
  messages: number;
  /** fields read, of all messages */
  fields: number;
}

const enum Kind {
  Varint = 0,
  Fixed64 = 1,
  Len = 2,
  Fixed32 = 5,
}

interface FieldRule {
  name: string;
  wire: Kind;
  /** repeated scalar: packed (LEN) accepted too */
  packable: boolean;
  utf8: boolean;
  message?: MessageRule;
  keyValues: boolean;
}

interface MessageRule {
  name: string;
  /** by field number */
  byId: (FieldRule | undefined)[];
}

/**
 * Strings longer than this are checked by Node's native UTF-8 validation at once; shorter ones
 * by a loop that looks for a non-ASCII byte first, which costs less than the view the native
 * check needs.
 */
const UTF8_NATIVE_FROM = 32;

const VARINT_TYPES = new Set(['int32', 'int64', 'uint32', 'uint64', 'sint32', 'sint64', 'bool']);
const FIXED64_TYPES = new Set(['fixed64', 'sfixed64', 'double']);
const FIXED32_TYPES = new Set(['fixed32', 'sfixed32', 'float']);

const rules = new Map<protobuf.Type, MessageRule>();

/** The rule of a message type, built once from protobufjs reflection. */
function ruleOf(type: protobuf.Type): MessageRule {
  let rule = rules.get(type);
  if (rule) return rule;
  rule = { name: type.name, byId: [] };
  rules.set(type, rule); // before the fields: types refer to themselves (AnyValue)
  for (const f of type.fieldsArray) {
    f.resolve();
    const t = f.resolvedType;
    let wire: Kind;
    let message: MessageRule | undefined;
    if (t instanceof protobuf.Type) {
      wire = Kind.Len;
      message = ruleOf(t);
    } else if (t instanceof protobuf.Enum || VARINT_TYPES.has(f.type)) {
      wire = Kind.Varint;
    } else if (FIXED64_TYPES.has(f.type)) {
      wire = Kind.Fixed64;
    } else if (FIXED32_TYPES.has(f.type)) {
      wire = Kind.Fixed32;
    } else {
      wire = Kind.Len; // string, bytes
    }
    rule.byId[f.id] = {
      name: f.name,
      wire,
      packable: f.repeated && wire !== Kind.Len,
      utf8: f.type === 'string',
      message,
      keyValues: f.repeated && t instanceof protobuf.Type && t.name === 'KeyValue',
    };
  }
  return rule;
}

class Walker extends WireReader {
  readonly report: ItemReport = { items: 0, accepted: 0, rejected: 0, undecided: false, messages: 0, fields: 0 };
  private readonly itemRule: MessageRule | undefined;
  constructor(
    buf: Uint8Array,
    private readonly limits: WireLimits,
    private readonly itemRules?: ItemRules,
  ) {
    super(buf);
    this.itemRule = itemRules ? ruleOf(itemRules.type) : undefined;
  }

  /** Count of field-1 entries directly in the message at [from, stop), already walked. */
  private countFieldOne(from: number, stop: number): number {
    const saved = this.pos;
    this.pos = from;
    let n = 0;
    while (this.pos < stop) {
      const tag = this.varintNumber(stop);
      const wire = tag & 7;
      if (tag >>> 3 === 1) n++;
      if (wire === Kind.Len) {
        const l = this.varintNumber(stop);
        this.pos += l;
      }
      else if (wire === Kind.Varint) this.varintNumber(stop);
      else this.pos += wire === Kind.Fixed64 ? 8 : 4;
    }
    this.pos = saved;
    return n;
  }

  /** Fails at the current byte; `field` is the name of the field being read, if any. */
  override fail(problem: string, field?: string): never {
    throw new WireError(problem, this.pos, field === undefined ? [] : [field]);
  }

  message(rule: MessageRule, end: number, depth: number): void {
    if (depth > this.limits.maxDepth) this.fail(`nested deeper than ${this.limits.maxDepth} messages`);
    this.report.messages++;
    const fields = rule.byId;
    let keyValues = 0;
    const item = rule === this.itemRule ? this.itemRules : undefined;
    const idLengths = item ? item.ids.map(() => 0) : undefined;
    let nonEmptyLength = 0;
    let weight = 1;
    let weightFieldsSeen = 0;
    while (this.pos < end) {
      const tag = this.varintNumber(end);
      this.report.fields++;
      const id = Math.floor(tag / 8);
      const wire = tag & 7;
      if (id === 0 || id > 0x1fffffff) this.fail(`invalid field number ${id}`);
      const field = id < fields.length ? fields[id] : undefined;
      const name = field?.name;
      if (field && wire !== field.wire && !(field.packable && wire === Kind.Len)) {
        this.fail(`wire type ${wire} where ${rule.name}.${field.name} needs ${field.wire}`, name);
      }
      if (wire === Kind.Len) {
        const len = this.varintNumber(end, name ?? String(id));
        if (len > end - this.pos) this.fail(`length ${len} runs past the end of its message (${end - this.pos} bytes left)`, name ?? String(id));
        const stop = this.pos + len;
        if (item) {
          for (let i = 0; i < item.ids.length; i++) if (item.ids[i]!.id === id) idLengths![i] = len;
          if (item.nonEmpty?.id === id) nonEmptyLength = len;
        }
        if (field?.message) {
          if (field.keyValues && ++keyValues > this.limits.maxAttributes) this.fail(`more than ${this.limits.maxAttributes} key-value pairs in one message`, name);
          try {
            const from = this.pos;
            this.message(field.message, stop, depth + 1);
            if (item?.weightFields?.includes(id)) {
              weight = this.countFieldOne(from, stop);
              weightFieldsSeen++;
            }
          } catch (e) {
            if (e instanceof WireError) e.path.unshift(name!);
            throw e;
          }
        } else if (field?.utf8) {
          this.utf8(stop, name!);
        } else if (field?.packable) {
          this.packed(field.wire, stop, name!);
        }
        this.pos = stop;
      } else if (wire === Kind.Varint) {
        this.varintNumber(end, name ?? String(id));
      } else if (wire === Kind.Fixed64 || wire === Kind.Fixed32) {
        const size = wire === Kind.Fixed64 ? 8 : 4;
        if (end - this.pos < size) this.fail('truncated fixed-width value', name ?? String(id));
        this.pos += size;
      } else {
        this.fail(`invalid wire type ${wire}`, name ?? String(id));
      }
    }
    if (item) this.judge(item, idLengths!, nonEmptyLength, item.weightFields ? (weightFieldsSeen === 0 ? 0 : weight) : 1, weightFieldsSeen > 1);
  }

  /** Counts one item as accepted or rejected, with the same reasons as SignalSpec.invalid. */
  private judge(item: ItemRules, idLengths: number[], nonEmptyLength: number, weight: number, ambiguous: boolean): void {
    const r = this.report;
    r.items++;
    if (ambiguous) r.undecided = true;
    let problem: string | undefined;
    for (let i = 0; i < item.ids.length && problem === undefined; i++) {
      const { name, size, required } = item.ids[i]!;
      const n = idLengths[i]!;
      if (n === 0 ? required : n !== size) problem = `${name} must be ${size} bytes${required ? '' : ' or empty'}, got ${n}`;
    }
    if (problem === undefined && item.nonEmpty && nonEmptyLength === 0) problem = item.nonEmpty.problem;
    if (problem === undefined) {
      r.accepted += weight;
    } else {
      r.rejected += Math.max(1, weight);
      r.firstProblem ??= problem;
    }
  }

  utf8(stop: number, field: string): void {
    const buf = this.buf;
    if (stop - this.pos > UTF8_NATIVE_FROM) {
      if (!isUtf8(buf.subarray(this.pos, stop))) this.fail('string is not valid UTF-8', field);
      return;
    }
    for (let i = this.pos; i < stop; i++) {
      if (buf[i]! >= 0x80) {
        if (!isUtf8(buf.subarray(this.pos, stop))) this.fail('string is not valid UTF-8', field);
        return;
      }
    }
  }

  packed(wire: Kind, stop: number, field: string): void {
    // each packed value decodes to an array element (a Long object for 64-bit integers)
    if (wire === Kind.Varint) {
      while (this.pos < stop) {
        this.varintNumber(stop, field);
        this.report.fields++;
      }
    } else if ((stop - this.pos) % (wire === Kind.Fixed64 ? 8 : 4) !== 0) {
      this.fail('packed fixed-width values of a partial length', field);
    } else {
      this.report.fields += (stop - this.pos) / (wire === Kind.Fixed64 ? 8 : 4);
    }
  }
}

/**
 * A field path as dotted names, a run of a repeated group of fields written once with its count:
 * `a.(b.c)×40.d` rather than forty `b.c`, so that a path as deep as the nesting limit stays short.
 */
export function compactPath(path: readonly string[]): string {
  const out: string[] = [];
  for (let i = 0; i < path.length; ) {
    let best = { size: 1, times: 1 };
    for (let size = 1; size <= 4 && i + 2 * size <= path.length; size++) {
      let times = 1;
      while (i + (times + 1) * size <= path.length && path.slice(i + times * size, i + (times + 1) * size).every((p, j) => p === path[i + j])) times++;
      if (times >= 3 && times * size > best.times * best.size) best = { size, times };
    }
    const group = path.slice(i, i + best.size).join('.');
    out.push(best.times === 1 ? group : `(${group})×${best.times}`);
    i += best.size * best.times;
  }
  return out.join('.');
}

/**
 * Throws WireError naming the first problem of `buf` as a `type` message within `limits`; with
 * `items`, also reports how many of the request's items are acceptable.
 */
export function checkWire(type: protobuf.Type, buf: Uint8Array, limits: WireLimits, items?: ItemRules): ItemReport {
  const w = new Walker(buf, limits, items);
  try {
    w.message(ruleOf(type), buf.length, 0);
  } catch (e) {
    if (e instanceof WireError) e.message = `${compactPath(e.path) || 'message'}: ${e.problem} (at byte ${e.at})`;
    throw e;
  }
  return w.report;
}
