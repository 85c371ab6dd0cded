import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { checkDatabaseUrl } from '../src/index.js'

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
const DATABASE = process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres'

/** Without a terminal, as CI and scripts run it: nothing may be asked. */
function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  const cwd = mkdtempSync(join(tmpdir(), 'create-acme-app-cli-'))
  const result = spawnSync(process.execPath, [cli, ...args], {
    cwd,
    encoding: 'utf8',
    input: '',
    env: { ...process.env, npm_config_user_agent: 'npm/10.8.2 node/v20.19.0 linux x64', ...env },
  })
  return { ...result, cwd, output: `${result.stdout}${result.stderr}` }
}

describe('create-acme-app without a terminal', () => {
  it('writes the project from flags and defaults, and prints the next steps', () => {
    const result = run(['my-saas', '--brand', 'Globex', '--no-install'])
    expect(result.status).toBe(0)
    expect(existsSync(join(result.cwd, 'my-saas', '.env'))).toBe(true)
    expect(result.output).toContain('pro, embedded PostgreSQL')
    expect(result.output).toContain('cd my-saas')
    expect(result.output).toContain('npm start')
  })

  it('under pnpm, adds the allowBuilds lines pnpm 12 needs, the same the docs give', () => {
    const result = run(['with-pnpm', '--no-install'], {
      npm_config_user_agent: 'pnpm/12.4.2 npm/? node/v20.19.0 linux x64',
    })
    expect(result.status).toBe(0)
    const written = readFileSync(join(result.cwd, 'with-pnpm', 'pnpm-workspace.yaml'), 'utf8')
    const docs = readFileSync(
      fileURLToPath(new URL('../../../docs/prisma.md', import.meta.url)),
      'utf8',
    )
    const documented = /```yaml\n( *allowBuilds:\n[\s\S]*?) *```/.exec(docs)?.[1]
    expect(documented).toBeDefined()
    expect(written).toBe((documented ?? '').replace(/^ {2}/gm, ''))
    const npm = run(['with-npm', '--no-install'])
    expect(existsSync(join(npm.cwd, 'with-npm', 'pnpm-workspace.yaml'))).toBe(false)
  })

  it('checks a PostgreSQL URL before writing anything', () => {
    const accepted = run(['with-db', '--database', DATABASE, '--no-install'])
    expect(accepted.status).toBe(0)
    const refused = run([
      'no-db',
      '--database',
      'postgresql://app:s3cret@127.0.0.1:1/app',
      '--no-install',
    ])
    expect(refused.status).toBe(1)
    expect(refused.output).toContain('ACME_CREATE_DATABASE_UNREACHABLE')
    expect(refused.output).not.toContain('s3cret')
    expect(existsSync(join(refused.cwd, 'no-db'))).toBe(false)
  })

  it('takes the operator password only from ACME_OPERATOR_PASSWORD, refusing before writing', () => {
    const noPassword = run(['ops', '--operator', 'ops@initech.test'], {
      ACME_OPERATOR_PASSWORD: '',
    })
    expect(noPassword.status).toBe(1)
    expect(noPassword.output).toContain('ACME_OPERATOR_PASSWORD')
    expect(existsSync(join(noPassword.cwd, 'ops'))).toBe(false)
    const noInstall = run(['ops', '--operator', 'ops@initech.test', '--no-install'], {
      ACME_OPERATOR_PASSWORD: 'operator horse battery staple',
    })
    expect(noInstall.status).toBe(1)
    expect(noInstall.output).toContain('--operator needs the install')
    expect(existsSync(join(noInstall.cwd, 'ops'))).toBe(false)
    const notEmail = run(['ops', '--operator', 'ops'], { ACME_OPERATOR_PASSWORD: 'x' })
    expect(notEmail.status).toBe(1)
    expect(notEmail.output).toContain('--operator must be an email address')
  })

  it('refuses an unknown tier or flag with the usage, writing nothing', () => {
    const tier = run(['x', '--tier', 'gold', '--no-install'])
    expect(tier.status).toBe(1)
    expect(tier.output).toContain('--tier must be starter, pro or enterprise')
    expect(existsSync(join(tier.cwd, 'x'))).toBe(false)
    const flag = run(['x', '--colour', 'red'])
    expect(flag.status).toBe(1)
    expect(flag.output).toContain('Usage: npm create acme-app')
  })
})

describe('checkDatabaseUrl', () => {
  it('accepts a PostgreSQL that answers and refuses other schemes', async () => {
    await expect(checkDatabaseUrl(DATABASE)).resolves.toBeUndefined()
    await expect(checkDatabaseUrl('mysql://127.0.0.1/app')).rejects.toMatchObject({
      code: 'ACME_CREATE_DATABASE_URL_INVALID',
    })
    await expect(checkDatabaseUrl('not a url')).rejects.toMatchObject({
      code: 'ACME_CREATE_DATABASE_URL_INVALID',
    })
  })
})
