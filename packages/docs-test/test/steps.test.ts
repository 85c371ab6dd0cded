import { describe, expect, it } from 'vitest'
import { extractSteps } from '../src/steps.js'

const page = (...lines: string[]) => lines.join('\n')

describe('extractSteps', () => {
  it('turns each marked fence into a step, in page order, and skips unmarked ones', () => {
    const steps = extractSteps(
      page(
        '# Title',
        '```sh',
        'echo not marked',
        '```',
        '<!-- docs-test: run -->',
        '```sh',
        'npm init -y',
        '```',
        '<!-- docs-test: file src/app.ts -->',
        '```ts',
        "console.log('hi')",
        '```',
        '<!-- docs-test: append prisma/app/schema.prisma -->',
        '```prisma',
        'model Note {}',
        '```',
      ),
    )
    expect(steps).toEqual([
      { kind: 'run', line: 5, commands: ['npm init -y'] },
      { kind: 'file', line: 9, path: 'src/app.ts', content: "console.log('hi')\n" },
      { kind: 'append', line: 13, path: 'prisma/app/schema.prisma', content: 'model Note {}\n' },
    ])
  })

  it('keeps a file exactly as shown: blank lines, indentation, fences of other lengths inside', () => {
    const [step] = extractSteps(
      page(
        '<!-- docs-test: file README.md -->',
        '````md',
        '  indented',
        '',
        '```sh',
        'x',
        '```',
        '````',
      ),
    )
    expect(step).toMatchObject({ content: '  indented\n\n```sh\nx\n```\n' })
  })

  it('reads a fence indented in a list item without its indentation', () => {
    const [step] = extractSteps(
      page(
        '- item',
        '  <!-- docs-test: file a.json -->',
        '  ```json',
        '  {',
        '    "a": 1',
        '  }',
        '  ```',
      ),
    )
    expect(step).toMatchObject({ content: '{\n  "a": 1\n}\n' })
  })

  it('names the variable a run block prints into, and the one command of a start block', () => {
    const steps = extractSteps(
      page(
        '<!-- docs-test: run capture=JWT_PRIVATE_KEYS -->',
        '```sh',
        'npx acme keys generate   # prints the value',
        '```',
        '<!-- docs-test: start -->',
        '```sh',
        'node --import tsx src/app.ts',
        '```',
      ),
    )
    expect(steps).toEqual([
      {
        kind: 'run',
        line: 1,
        commands: ['npx acme keys generate   # prints the value'],
        capture: 'JWT_PRIVATE_KEYS',
      },
      { kind: 'start', line: 5, command: 'node --import tsx src/app.ts' },
    ])
  })

  it('reads the transcript table that follows its marker', () => {
    const [step] = extractSteps(
      page(
        '<!-- docs-test: transcript -->',
        '| who | request | answer | notes |',
        '| --- | --- | --- | --- |',
        '| Ann | `POST /tenants/:tenantId/invitations` | 201 | a mail |',
        '',
        'After the table.',
      ),
    )
    expect(step).toEqual({
      kind: 'transcript',
      line: 1,
      rows: [{ who: 'Ann', request: 'POST /tenants/:tenantId/invitations', status: 201 }],
    })
  })

  it.each([
    ['an unknown marker', page('<!-- docs-test: runn -->', '```sh', 'x', '```'), /line 1: unknown/],
    [
      'a marker with no fence under it',
      page('<!-- docs-test: run -->', '', '```sh', 'x', '```'),
      /right above a code fence/,
    ],
    ['a fence never closed', page('<!-- docs-test: run -->', '```sh', 'x'), /never closed/],
    [
      'a file outside the app',
      page('<!-- docs-test: file ../x.ts -->', '```ts', 'x', '```'),
      /inside the app/,
    ],
    [
      'a start with two commands',
      page('<!-- docs-test: start -->', '```sh', 'a', 'b', '```'),
      /exactly one command/,
    ],
    [
      'a run block of comments only',
      page('<!-- docs-test: run -->', '```sh', '# a', '```'),
      /no command/,
    ],
    [
      'a lowercase capture name',
      page('<!-- docs-test: run capture=keys -->', '```sh', 'a', '```'),
      /capture=NAME/,
    ],
  ])('refuses %s, naming the line', (_, markdown, message) => {
    expect(() => extractSteps(markdown)).toThrow(message)
  })
})
