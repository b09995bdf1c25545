// Package codec is where redstage's data rules live: it converts between
// Redis hash field strings and typed Arrow columns, parses and prints
// schemas, infers schemas with confidence figures, reads and writes data
// files, and frames record batches for messaging.
//
// It promises that
//   - every value written by RowEncoder scans back (RecordBuilder with the
//     encoder's Schema) as the identical value, nulls included;
//   - a value that does not parse never fails a batch: it becomes null and
//     is counted per field (RecordBuilder.Invalid), unless Strict mode asks
//     for an error naming key, field, value and wanted type;
//   - inference picks only a type its own scan accepts, and its confidence
//     figures count missing fields as nulls;
//   - bad input (specs, schema files, values, files) gives an error naming
//     the position and what is wrong, never a panic.
//
// # Types
//
// A field has one of six types:
//
//	type      Arrow column              written to Redis as
//	utf8      utf8 (string)             the string itself
//	int64     int64                     decimal: -42
//	float64   float64                   shortest round-trip decimal: 0.1, 1e-7, inf, -inf, nan, -0
//	bool      boolean                   true / false
//	date      date32 (days since epoch) YYYY-MM-DD
//	datetime  timestamp[us, tz=UTC]     RFC 3339 UTC: 2024-05-01T12:30:45Z, .123Z, .123456Z
//
// Type names accepted in specs and files (any case): utf8 (string, str,
// text), int64 (int, integer, long, i64), float64 (float, double, f64),
// bool (boolean), date (date32), datetime (timestamp).
//
// # Parsing Redis strings (scan side)
//
//	type      accepted text                                            rejected (examples)
//	utf8      any valid UTF-8, including ""                            bytes that are not UTF-8
//	int64     optional + or -, ASCII digits, within int64              1.0  1e3  " 1"  1_000  0x10  9223372036854775808
//	float64   decimal with optional sign, fraction, exponent           1,5  0x1p3  1_0  " 1"  1e400 (overflow)
//	          (1  -2.5  .5  5.  6.02E+23); inf, infinity, nan in any
//	          case, optionally signed; tiny values underflow to 0
//	bool      true false  t f  yes no  y n  1 0, any case              on  off  2  " true"
//	date      YYYY-MM-DD (proleptic Gregorian, checked day of month);  2023-02-29  2024-1-01  20240101
//	          years outside 0000-9999 as ±YYYYY-MM-DD (-0044-03-15,
//	          +10000-01-01); the whole date32 range
//	datetime  YYYY-MM-DD                         (midnight UTC)        2024-05-01T24:00:00  ...:60  "... UTC"
//	          YYYY-MM-DD{T|t|space}HH:MM[:SS[{.|,}fraction]][zone]     1714566645.5  May 1, 2024
//	          zone: Z, z, ±HH:MM, ±HHMM, ±HH; none = UTC;
//	          fraction: any number of digits, truncated to µs
//	          integer n (optional sign): epoch seconds if |n| < 1e11,
//	          else epoch milliseconds (see below)
//
// Integer datetimes: |n| < 1e11 (EpochMillisThreshold) is read as seconds
// since 1970-01-01T00:00:00Z, anything larger as milliseconds. 1e11
// seconds is in the year 5138 and 1e11 milliseconds is 1973-03-03, so both
// present-day forms are read right; millisecond values before March 1973
// are misread as seconds. An eight-digit basic date such as 20240101 is an
// integer and so reads as epoch seconds, not as a date.
//
// A field missing from the hash is null. An empty string is the empty utf8
// value for utf8 fields and null (not invalid) for every other type. Any
// other text that does not parse is null and counted in
// RecordBuilder.Invalid; in Strict mode it is a *ParseError (wrapping
// ErrInvalidValue) and the row is not appended. No value is trimmed: " 1"
// is not an int64.
//
// # Bytes that are not UTF-8
//
// Redis keys, field names and values are byte strings, while Arrow utf8
// columns, column names, CSV and NDJSON must be valid UTF-8 (Polars and
// PyArrow refuse a whole file otherwise). codec never writes invalid UTF-8
// and never changes bytes silently; it uses one lossless escaped form
// (EscapeBytes, reversed by UnescapeBytes): valid UTF-8 characters as they
// are, a backslash as \\, and each byte that is not part of a valid UTF-8
// sequence as \xHH (lowercase hex). So:
//
//	what                      rule
//	key (key column)          KeyText (default): valid UTF-8 as is, any other key
//	                          escaped and counted (RecordBuilder.NonUTF8Keys);
//	                          KeyEscape: every key escaped, so each decodes back
//	                          exactly (under KeyText a valid key that contains
//	                          "\xHH" text looks escaped)
//	field name                any bytes; a name that is not UTF-8 is the Arrow
//	                          column name and the Invalid() key in escaped form
//	                          (EscapeInvalid), and is written escaped with
//	                          "name_escaped":true in schema files, inference
//	                          output and Inferrer state, which read it back
//	utf8 value                not UTF-8: an unparsable value like any other,
//	                          null and counted in Invalid (Strict: *ParseError)
//
// A schema file that holds raw invalid bytes is an error (JSON decoders
// would replace them by U+FFFD, and the field would silently scan as null).
// Values are not escaped because a utf8 column must carry the value itself:
// store binary data encoded (hex, base64) to scan it.
//
// # Formatting typed values (write side)
//
// int64 in decimal; float64 in the shortest text that parses back to the
// same bits (plain notation for 1e-6 <= |v| < 1e21, else exponent form;
// inf, -inf, nan; negative zero as -0); bool as true/false; date as
// YYYY-MM-DD with years outside 0000-9999 as in parsing; datetime as RFC
// 3339 in UTC, with no fraction for whole seconds, 3 digits for whole
// milliseconds and 6 otherwise. Nulls are not written (the field is left
// out of the hash).
//
// Input files may carry other Arrow types. RowEncoder (and MapArrowType,
// FormatCell) map them so:
//
//	Arrow input type                          codec type  written as
//	int8 int16 int32 int64 uint8..uint32      int64       decimal
//	uint64                                    int64       decimal; a value above 2^63-1 is an error naming column and row
//	float16 float32 float64                   float64     shortest text at the source precision (float32 0.1 → "0.1")
//	decimal32/64/128/256                      float64     the exact decimal text ("123.45"); scans back as the nearest float64
//	utf8 large_utf8 utf8_view                 utf8        as is
//	binary large_binary binary_view           utf8        as is if valid UTF-8, else an error naming column and row
//	fixed_size_binary                         utf8        as binary
//	bool                                      bool        true / false
//	date32 date64                             date        YYYY-MM-DD (date64 floored to the day)
//	timestamp (s, ms, us, ns; any zone)       datetime    RFC 3339 UTC; ns truncated to µs; the zone only
//	                                                      affects display in Arrow, the instant is kept
//	time32 time64                             utf8        HH:MM:SS[.fff|.ffffff|.fffffffff]
//	duration                                  int64       the count in the column's own unit
//	dictionary<…, T>                          as T        the dictionary value
//	extension arrow.uuid                      utf8        canonical 8-4-4-4-12 text
//	extension arrow.bool8                     bool        true / false
//	other extension types                     as storage
//	null                                      utf8        never written (always null)
//	list, struct, map, union, interval, …     -           error naming the column: flatten, convert to text, or exclude it
//
// # Schemas and metadata columns
//
// The command-line spec is "name:type,name:type" (spaces around names and
// types ignored; the type follows the last colon, so names may contain
// colons but not commas). The JSON file form is
// {"fields":[{"name":"age","type":"int64"}]} (a name that is not UTF-8:
// escaped, with "name_escaped":true); inference output adds an
// "inference" section and is read unchanged by ReadSchemaFile. LoadSchemaArg
// takes "@path" for a file and anything else as a spec.
//
// Scan output has, in order, the key column (_key, utf8, in the form
// MetaColumns.KeyEncoding selects), the schema
// fields, the TTL column (_ttl, int64 seconds, -1 = no expiry) and the row
// index column (_index, uint64). Their names are set by MetaColumns ("" =
// not produced); a schema field with the name of a metadata column is an
// error wrapping ErrColumnCollision.
//
// # Inference
//
// Inferrer counts, per field, the sampled hashes (samples), the null
// values (the hash lacks the field, or its value is empty, wherever in the
// sample the hash is) and, for each type, how many non-null values parse
// as it (type_candidates). The type is chosen so:
//
//  1. the most specific type that every non-null value satisfies, in the
//     order int64, bool, float64, date, datetime (int64 ⊂ float64 ⊂ utf8,
//     date ⊂ datetime ⊂ utf8, bool separate); int64 comes before bool, so
//     a field of only "0" and "1" is int64, while 0/1 mixed with words like
//     "yes" or "false" is bool; int64 comes before datetime, so integers
//     stay numbers although they would parse as epoch seconds (overwrite to
//     datetime if they are timestamps); integers mixed with ISO dates fit
//     only datetime and become datetime;
//  2. failing that, the first type in the same order that at least
//     threshold (default 0.9) of the non-null values satisfy;
//  3. failing that, utf8.
//
// A number whose text a number column would change — a leading + or a
// leading zero before another digit (0049123, 01234, +4912345, -007,
// 00.5) — counts only as utf8: phone numbers, zip codes and account
// numbers stay text. "0", "0.5" and "-0.25" are numbers.
//
// Confidence is valid / non-null values under the chosen type (1 when
// every sampled value fits). A field with no non-null value is utf8 with
// all_null set and confidence 0. all_confident means every field has
// confidence 1. Fields are in the order first seen: for rows (AddRow, CSV;
// redstage infer passes small hashes as rows in the order Redis returns
// their fields, i.e. as written) the column order; within one map
// (AddHash), which has no order, in natural order (c2 before c10), after
// the fields of earlier hashes. Partial Inferrers marshal to JSON (keeping
// that order) and Merge into the same types and figures as one Inferrer
// over the whole sample; the merged order is the receiver's fields, then
// each merged Inferrer's new fields in its order.
//
// # File formats
//
// The file side of codec reads and writes five formats. Readers stream:
// memory is bounded by the batch size (and, for CSV and NDJSON, the
// inference sample), never by the file size.
//
//	format   extensions                 read "-" (stdin)   write "-" (stdout)
//	csv      .csv .tsv .tab (tab)       yes                yes
//	ndjson   .ndjson .jsonl .json       yes                yes
//	parquet  .parquet .pq               no (needs seek)    yes
//	arrow    .arrow .feather .ipc       no (needs seek)    yes
//	arrows   .arrows                    yes                yes
//
// The format name "tsv" (and "tab") is csv with a tab delimiter
// (FormatDelimiter gives it; ParseFormat maps the name to csv). Streamed
// input (csv, ndjson, arrows, files and stdin) that starts with the gzip
// or zstd magic number is decompressed; FormatFromPath looks through a
// .gz, .gzip, .zst or .zstd suffix (x.csv.gz is csv, x.tsv.zst tab-separated
// csv) and refuses compressed parquet and arrow files, which compress
// internally. A truncated or corrupt compressed stream is ErrMalformedFile.
//
// CSV. The first line is the header unless NoHeader (then columns are named
// column_1, column_2, ...; an empty header name also becomes column_N).
// Fields are separated by Delimiter (',' by default, tab for .tsv/.tab; any
// ASCII character but a quote or line break) and may be quoted with '"': a
// doubled quote is a literal quote, and quoted fields may contain the
// delimiter and line breaks. A quote inside an unquoted field is literal
// text; text after a closing quote is an error. A UTF-8 byte-order mark is
// skipped; CRLF line ends are accepted. Blank lines are skipped, except in a
// one-column file, where a blank line is a null. Null markers (NullValues,
// default: the empty string) apply to unquoted fields only: a quoted field is
// always its literal text, so `,,` is a null and `,"",` an empty string. In a
// non-utf8 column an empty field, quoted or not, is null.
//
// Without a schema, each column's type is inferred over the first
// SampleRows data rows (default 10000) by the codec inference rules at
// threshold 1.0, so a column only gets a type that every sampled value
// parses as (int64, then bool, float64, date, datetime; else utf8; all-null
// columns are utf8). Every value is then parsed with the rules used for
// Redis values (ParseInt64, ...). A value that does not parse as its
// column's type is an error naming file, line and column: a load never
// drops data silently. Give the column's type in a schema (ReadOptions.Schema)
// or sample more rows.
//
// Text mode (ReadOptions.Text, used by redstage load without --schema):
// inference runs as above and InferredSchema reports its types, but every
// CSV and NDJSON column is utf8 holding each value exactly as the file has
// it, so nothing is normalised ("007", "+49", "yes", "1e3", "1.50" stay as
// they are) and no value can fail to parse. Nulls are as for utf8 columns. A row with a different number of fields than the
// header is an error naming its line. With a schema and a header, columns
// are matched by name (header columns not in the schema are not read; a
// schema field missing from the header is an error); without a header the
// schema names the columns in order.
//
// NDJSON. One JSON object per line; blank lines are skipped. A line that
// is not a whole JSON object (a pretty-printed array or object) is an error
// saying so, with the jq command that converts the file. Without a
// schema, the columns are the keys of the first SampleRows lines in order of
// first appearance, typed by their JSON kinds (in Text mode the columns are
// utf8 and a number keeps its literal text: 1e3 stays "1e3"): all booleans → bool; all
// numbers → int64 if every one is an integer that fits, else float64 (the
// strings "nan", "inf", "-inf" count as numbers, since JSON has no literal
// for them); all strings → date if every one is YYYY-MM-DD, datetime if every
// one is a datetime (a bare integer string is not), else utf8; mixed kinds,
// and nested objects or arrays (kept as compact JSON text) → utf8. So JSON
// strings stay strings ("00123" is not turned into 123). A key first seen
// after the sample is an error (give a schema, or sample more lines). With a
// schema, keys not in it are not read, and each value's text (a string's
// content, a number's literal, true/false) is parsed by the codec rules, so
// "42" loads into an int64 column. null, a missing key, and "" in a non-utf8
// column are null. A value that does not parse is an error naming the line.
//
// Parquet and Arrow IPC carry their own types: columns are read as stored
// (MapArrowType maps the other Arrow types onto the six when they are
// written to Redis). With a schema, only its fields are read, in schema
// order, and a column whose stored type maps to another codec type than the
// schema says is an error. Parquet is read row group by row group
// (ParquetRowGroups, OpenParquetRowGroups), so independent workers can each
// take some groups. The arrows reader also accepts an IPC file (it skips
// the leading magic), e.g. one piped to stdin.
//
// Writers. CSV writes a header line and each value in the codec text form
// (int64 decimal, float64 shortest round-trip form with nan/inf/-inf, bool
// true/false, date YYYY-MM-DD, datetime RFC 3339 UTC); a null is an empty
// unquoted field and an empty string is written "", so files read back
// identically. NDJSON writes int64, float64 and bool values as JSON literals
// (non-finite floats as the strings "nan", "inf", "-inf"), every other value
// as a JSON string in the codec text form, and nulls as null. Other Arrow
// types are written by the same rules as to Redis (FormatCell). Parquet is
// zstd-compressed, with the Arrow schema stored (time zones survive), in row
// groups of RowGroupRows rows (default 256Ki). Arrow IPC file and stream are
// uncompressed by default (readable everywhere); WriteOptions.Compression
// selects zstd or lz4. A file is complete only when Close returns nil.
//
// Errors are *FileError values naming the file and the line (CSV, NDJSON)
// or row group (Parquet), and the column for a bad value; they wrap
// ErrMalformedFile, ErrInvalidValue, ErrUnknownField, ErrSchemaMismatch,
// ErrNotSeekable, ErrUnknownFormat or ErrInvalidOptions.
package codec
