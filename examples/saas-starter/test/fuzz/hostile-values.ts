/**
 * The hostile inputs every field, body, path and query string is tried with. Named, so a report
 * line says which one broke what. No value contains SQL keywords the leak check looks for, so
 * an echo of the input is never mistaken for a leaked query.
 */

export const ONE_MEGABYTE = 1_000_000

/** `depth` arrays inside each other around a string. */
export function nested(depth: number): unknown {
  let value: unknown = 'x'
  for (let level = 0; level < depth; level++) value = [value]
  return value
}

/** Strings a text field must survive: stored, compared, hashed or rejected, never a 5xx. */
export const HOSTILE_STRINGS: Array<[name: string, value: string]> = [
  ['empty string', ''],
  ['whitespace only', ' \t\n '],
  ['NUL char', 'a\u0000b'],
  ['control chars', 'a\u0001\u0007\u0008\u001b[31m\u007f\u0085b'],
  ['lone high surrogate', 'x\ud800y'],
  ['lone low surrogate', '\udc00'],
  ['reversed surrogates', '\udc00\ud800'],
  ['unicode and RTL override', 'Ünïcødé 名前 🚀 \u202egnp.exe'],
  ['zero-width and BOM', '\u200b\u200d\ufeffa'],
  ['quote and backslash', '"\'\\`'],
  ['SQL-like quote', "1' OR '1'='1"],
  ['SQL timing probe', "x'||pg_sleep(6)||'"],
  ['HTML', '<script>alert(1)</script>'],
  ['path traversal', '../../../../etc/passwd'],
  ['CRLF injection', 'a\r\nX-Injected: 1'],
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a template-injection probe, sent as is
  ['format string', '%s%s%n%x{0}${7*7}'],
  ['1 MB string', 'a'.repeat(ONE_MEGABYTE)],
]

/** Values of the wrong JSON type, for any field. */
export const WRONG_TYPES: Array<[name: string, value: unknown]> = [
  ['null', null],
  ['true', true],
  ['number 42', 42],
  ['string "x"', 'x'],
  ['array', ['x']],
  ['empty object', {}],
  ['object', { x: 1 }],
]

export const HOSTILE_NUMBERS: Array<[name: string, value: number]> = [
  ['zero', 0],
  ['negative', -1],
  ['fraction', 0.5],
  ['2^31', 2 ** 31],
  ['2^53 + 2', 2 ** 53 + 2],
  ['1e308', 1e308],
  ['-1e308', -1e308],
  ['tiny', 5e-324],
]

/** Numbers JSON.stringify cannot write: sent as raw text. */
export const RAW_NUMBER_LITERALS: Array<[name: string, literal: string]> = [
  ['1e999 literal', '1e999'],
  ['-0 literal', '-0'],
  ['400-digit integer', '9'.repeat(400)],
]

/** Nested values for a field; the root-level variants go past core's depth limit. */
export const NESTINGS: Array<[name: string, depth: number]> = [
  ['nested 20 deep', 20],
  ['nested 70 deep', 70],
]

/** Path parameter values, already encoded for the URL (a path param is raw URL text). */
export function hostilePathSegments(
  realId: string | undefined,
): Array<[name: string, segment: string]> {
  const segments: Array<[string, string]> = [
    ['random uuid (no row)', '5b3f1c9e-8a4d-4e2b-9c7f-1d2e3f4a5b6c'],
    ['nil uuid', '00000000-0000-0000-0000-000000000000'],
    ['max uuid', 'ffffffff-ffff-ffff-ffff-ffffffffffff'],
    ['malformed id', 'not-a-uuid'],
    ['numeric id', '-1'],
    ['huge number id', '1e309'],
    ['SQL-like id', encodeURIComponent("1' OR '1'='1")],
    ['encoded NUL', 'a%00b'],
    ['encoded control chars', '%01%1b%7f'],
    ['%ff in path', '%ff'],
    ['encoded lone surrogate', '%ED%A0%80'],
    ['encoded slash traversal', '..%2F..%2Fetc%2Fpasswd'],
    ['encoded CRLF', 'a%0d%0aX-Injected:%201'],
    ['unicode id', encodeURIComponent('名前🚀')],
    ['param of 101 chars', 'a'.repeat(101)],
    ['param of 201 chars', 'a'.repeat(201)],
    ['param of 5,000 chars', 'a'.repeat(5000)],
  ]
  if (realId) {
    segments.push(['real id upper-cased', realId.toUpperCase()])
    segments.push(['real id with suffix', `${realId}x`])
    segments.push(['real id with trailing slash', `${realId}/`])
  }
  return segments
}

/** Query strings, appended after `?`, for any route. */
export const HOSTILE_QUERIES: Array<[name: string, query: string]> = [
  ['unknown param', 'unknown=1'],
  ['100 KB query string', `q=${'a'.repeat(100_000)}`],
  ['%ff in query', 'q=%ff'],
  ['encoded NUL in query', 'q=a%00b'],
  ['__proto__ in query', '__proto__[admin]=1&constructor[prototype][admin]=1'],
  ['array syntax in query', 'a[]=1&a[]=2'],
  ['1,000 params', Array.from({ length: 1000 }, (_, index) => `p${index}=1`).join('&')],
]

/** Values for a declared query parameter of type integer. */
export const HOSTILE_INTEGER_QUERY_VALUES: Array<[name: string, value: string]> = [
  ['zero', '0'],
  ['negative', '-1'],
  ['fraction', '1.5'],
  ['not a number', 'abc'],
  ['huge', '99999999999999999999999'],
  ['1e309', '1e309'],
  ['empty', ''],
  ['duplicated', '1&{name}=2'],
]
