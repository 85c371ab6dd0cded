import { describe, expect, it } from 'vitest'
import { textValidator } from '../../src/sniff/text.js'
import type { TextType } from '../../src/sniff/types.js'

/** Feeds `text` in chunks of `size` bytes (so tokens and characters split across chunks). */
function check(type: TextType, text: string | Buffer, size = 3): string | null {
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text)
  const validator = textValidator(type)
  for (let at = 0; at < bytes.length; at += size) {
    const problem = validator.write(bytes.subarray(at, at + size))
    if (problem) return problem
  }
  return validator.end()
}

describe('text formats, validated by parsing while streaming', () => {
  it.each([
    '{}',
    '[]',
    ' {"a": [1, -2.5e10, true, false, null, "x\\u00e9\\n"], "b": {"c": {}}} ',
    '"just a string"',
    '0',
    '[{"é": "日本"}]',
  ])('JSON %j is valid', (text) => {
    expect(check('application/json', text)).toBeNull()
  })

  it.each([
    '',
    '{',
    '{"a" 1}',
    '{"a": 1,}',
    '[1 2]',
    '01',
    '{"a": tru}',
    '"\\x"',
    '{} {}',
    '[1,]',
    '{"a": "\u0001"}',
  ])('JSON %j is refused', (text) => {
    expect(check('application/json', text)).toMatch(/not JSON/)
  })

  it.each(['a,b\r\n1,2\r\n', 'a,"b ""q"", c"\n1,"2\n3"\n', 'only\n', 'a,b\n1,2'])(
    'CSV %j is valid',
    (text) => expect(check('text/csv', text)).toBeNull(),
  )

  it.each(['a,b\n1\n', 'a,"b\n', 'a,b"c\n', '"a"b,c\n'])('CSV %j is refused', (text) => {
    expect(check('text/csv', text)).not.toBeNull()
  })

  it('plain text must be UTF-8 without binary control characters', () => {
    expect(check('text/plain', 'tab\there\r\nand a form feed\f\n')).toBeNull()
    expect(check('text/plain', Buffer.from('caf\xe9', 'latin1'))).toBe('not valid UTF-8')
    expect(check('text/plain', Buffer.from([0xe6, 0x97]))).toBe('not valid UTF-8')
    expect(check('text/plain', 'nul\u0000')).toMatch(/control/)
    expect(check('text/plain', Buffer.from('日本語のテキスト'), 1)).toBeNull()
  })
})
