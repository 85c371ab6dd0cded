import { describe, expect, test } from 'vitest'
import { MergeError } from '../src/merge/index.js'
import { scanSchema } from '../src/merge/scan.js'

const scan = (text: string) =>
  scanSchema(text, { file: 'f.prisma', errorCode: 'ACME_CLI_FRAGMENT_SYNTAX' })

describe('scanSchema', () => {
  test('finds blocks, keeps their doc comments, ignores braces in strings and comments', () => {
    const blocks = scan(
      [
        '// a file comment',
        '',
        '/// doc',
        'model A { // trailing comment {',
        '  json Json @default("{\\"a\\": \\"}\\"}") // }',
        '}',
        'extend model B {',
        '  a A',
        '} // done',
      ].join('\n'),
    )
    expect(
      blocks.map((block) => [block.kind, block.name, block.header.line, block.closing.line]),
    ).toEqual([
      ['model', 'A', 4, 6],
      ['extend', 'B', 7, 9],
    ])
    expect(blocks[0]?.leading.map((line) => line.text)).toEqual([
      '// a file comment',
      '',
      '/// doc',
    ])
    expect(blocks[0]?.body).toEqual([
      { text: '  json Json @default("{\\"a\\": \\"}\\"}") // }', line: 5 },
    ])
  })

  test.each([
    ['model A {\n  id String @id }\n', 2, 'must be on a line of its own'],
    ['model A\n{\n}\n', 1, 'expected `model Name {`'],
    ['model A {\n}\nfoo bar\n', 3, 'unexpected text outside a block'],
    ['enum E {\n  X\n', 1, 'is never closed'],
  ])('reports %j at its line', (text, line, message) => {
    let caught: unknown
    try {
      scan(text)
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(MergeError)
    expect((caught as MergeError).message).toContain(`f.prisma:${line}: `)
    expect((caught as MergeError).message).toContain(message)
  })
})
