#!/usr/bin/env node
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { basename, join, relative, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import * as prompts from '@clack/prompts'
import { createProject } from './create.js'
import { checkDatabaseUrl } from './database-check.js'
import { CreateAppError } from './errors.js'
import { isTier, TIERS, type Tier } from './tiers.js'

const USAGE = `Usage: npm create acme-app@latest [directory] -- [options]

  --name <name>         package name (default: the directory's name)
  --brand <text>        the name your customers see (default: the name)
  --tier <tier>         starter | pro | enterprise (default: pro)
  --database <url>      a PostgreSQL URL, checked now; "embedded" (default) needs nothing
  --no-install          write the files only
  --yes, -y             ask nothing: the flags and defaults decide
  --help, -h            this text

Every question is also a flag; without a terminal nothing is asked.`

interface Answers {
  directory: string
  name: string
  brand: string
  tier: Tier
  databaseUrl: string | null
}

function fail(message: string): never {
  prompts.log.error(message)
  process.exit(1)
}

function packageManager(): 'npm' | 'pnpm' | 'yarn' {
  const agent = process.env.npm_config_user_agent ?? ''
  if (agent.startsWith('pnpm')) return 'pnpm'
  if (agent.startsWith('yarn')) return 'yarn'
  return 'npm'
}

function cancelled<T>(value: T): Exclude<T, symbol> {
  if (prompts.isCancel(value) || typeof value === 'symbol') {
    prompts.cancel('Nothing was written.')
    process.exit(1)
  }
  return value as Exclude<T, symbol>
}

async function ask(
  flags: Record<string, unknown>,
  positional: string | undefined,
  interactive: boolean,
): Promise<Answers> {
  const text = (key: string) =>
    typeof flags[key] === 'string' ? (flags[key] as string) : undefined
  const directory =
    positional ??
    (interactive
      ? cancelled(
          await prompts.text({
            message: 'Where should the project go?',
            placeholder: 'my-saas',
            defaultValue: 'my-saas',
          }),
        )
      : 'my-saas')
  const defaultName = basename(resolve(directory))
    .toLowerCase()
    .replace(/[^a-z0-9-._~]/g, '-')
  const name =
    text('name') ??
    (interactive
      ? cancelled(await prompts.text({ message: 'Package name', initialValue: defaultName }))
      : defaultName)
  const brand =
    text('brand') ??
    (interactive
      ? cancelled(await prompts.text({ message: 'Brand your customers see', initialValue: name }))
      : name)
  const tierFlag = text('tier')
  if (tierFlag !== undefined && !isTier(tierFlag))
    fail(`--tier must be starter, pro or enterprise, not "${tierFlag}".`)
  const tier: Tier =
    tierFlag ??
    (interactive
      ? cancelled(
          await prompts.select<Tier>({
            message: 'Tier',
            initialValue: 'pro',
            options: (Object.keys(TIERS) as Tier[]).map((value) => ({
              value,
              label: TIERS[value].label,
            })),
          }),
        )
      : 'pro')
  const databaseFlag = text('database')
  const database =
    databaseFlag ??
    (interactive
      ? cancelled(
          await prompts.text({
            message: 'PostgreSQL URL (empty: embedded PostgreSQL, nothing to install)',
            defaultValue: 'embedded',
            placeholder: 'embedded',
          }),
        )
      : 'embedded')
  return {
    directory,
    name,
    brand,
    tier,
    databaseUrl: database === 'embedded' || database === '' ? null : database,
  }
}

async function main(): Promise<void> {
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        name: { type: 'string' },
        brand: { type: 'string' },
        tier: { type: 'string' },
        database: { type: 'string' },
        install: { type: 'boolean', default: true },
        'no-install': { type: 'boolean' },
        yes: { type: 'boolean', short: 'y' },
        help: { type: 'boolean', short: 'h' },
      },
    })
  } catch (error) {
    fail(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`)
  }
  const { values, positionals } = parsed
  if (values.help) {
    process.stdout.write(`${USAGE}\n`)
    return
  }
  const interactive = Boolean(process.stdin.isTTY && process.stdout.isTTY && !values.yes)
  prompts.intro('create-acme-app')
  const answers = await ask(values, positionals[0], interactive)
  try {
    if (answers.databaseUrl) await checkDatabaseUrl(answers.databaseUrl)
    const created = createProject(answers)
    const pm = packageManager()
    if (pm === 'pnpm') {
      // pnpm 12 stops on dependencies with install scripts it was not told about (docs/prisma.md).
      writeFileSync(
        join(created.directory, 'pnpm-workspace.yaml'),
        'allowBuilds:\n  "@prisma/engines": false\n  esbuild: false\n  msgpackr-extract: false\n  prisma: false\n',
      )
    }
    prompts.log.success(
      `Wrote ${relative(process.cwd(), created.directory) || '.'} (${answers.tier}, ${answers.databaseUrl ? 'PostgreSQL' : 'embedded PostgreSQL'}), .env with a fresh signing key.`,
    )
    if (created.planned.length > 0) {
      prompts.log.info(`Planned for this tier, not published yet: ${created.planned.join(', ')}.`)
    }
    const install = values.install !== false && !values['no-install']
    if (install) {
      prompts.log.step(`${pm} install`)
      const result = spawnSync(pm, ['install'], {
        cwd: created.directory,
        stdio: 'inherit',
        shell: process.platform === 'win32',
      })
      if (result.status !== 0)
        fail(`${pm} install failed; fix the error above and run it again in ${created.directory}.`)
    }
    const dir = relative(process.cwd(), created.directory) || '.'
    prompts.outro(
      [
        'Next steps:',
        `  cd ${dir}`,
        ...(install ? [] : [`  ${pm} install`]),
        `  ${pm} start            # applies the migrations, then serves http://localhost:3000/docs`,
      ].join('\n'),
    )
  } catch (error) {
    if (error instanceof CreateAppError) fail(`${error.message} (${error.code})`)
    throw error
  }
}

await main()
