import { describe, expect, it } from 'vitest'
import { shellCommands, withTarballs } from '../src/commands.js'

describe('shellCommands', () => {
  it('gives one command per line, joins continuations, drops blank and comment-only lines', () => {
    const block = [
      '# set up',
      'npx acme prisma merge        # yours + the plugins',
      '',
      'DATABASE_URL=postgresql://x \\',
      '  npx acme migrate apply',
      '',
    ].join('\n')
    expect(shellCommands(block)).toEqual([
      'npx acme prisma merge        # yours + the plugins',
      'DATABASE_URL=postgresql://x npx acme migrate apply',
    ])
  })
})

describe('withTarballs', () => {
  const tarballs = new Map([
    ['@acme/core', '/tmp/packed/acme-core-0.1.0.tgz'],
    ['@acme/cli', '/tmp/packed dir/acme-cli-0.1.0.tgz'],
  ])

  it('installs the packed tarball for each workspace package an npm install names', () => {
    expect(withTarballs('npm install @acme/core fastify @acme/cli@^0.1.0 -D', tarballs)).toBe(
      "npm install /tmp/packed/acme-core-0.1.0.tgz fastify '/tmp/packed dir/acme-cli-0.1.0.tgz' -D",
    )
    expect(withTarballs('npm i @acme/core', tarballs)).toBe('npm i /tmp/packed/acme-core-0.1.0.tgz')
  })

  it('leaves third-party packages and other commands as the page has them', () => {
    expect(withTarballs('npm install -D prisma@7 tsx', tarballs)).toBe(
      'npm install -D prisma@7 tsx',
    )
    expect(withTarballs('npx acme init @acme/core', tarballs)).toBe('npx acme init @acme/core')
  })

  it('refuses a workspace-scoped name that was not packed: the page installs something unpublished', () => {
    expect(() => withTarballs('npm install @acme/webhooks', tarballs)).toThrow(
      '@acme/webhooks is not a published package',
    )
  })
})
