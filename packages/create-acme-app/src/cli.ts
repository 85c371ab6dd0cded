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
  --operator <email>    create the first operator account after the install; its password
                        comes from ACME_OPERATOR_PASSWORD (asked for in a terminal)
  --packages <dir>      install the @acme packages from the .tgz files in <dir>, not the
                        registry (air-gapped installs, unreleased packages)
  --no-install          write the files only (no install, no migrations, no operator)
  --yes, -y             ask nothing: the flags and defaults decide
  --help, -h            this text

Every question is also a flag; without a terminal nothing is asked.`

interface Operator {
  email: string
  password: string
}

interface Answers {
  directory: string
  name: string
  brand: string
  tier: Tier
  databaseUrl: string | null
  operator: Operator | null
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/

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
  install: boolean,
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
    // Without the install there is no app to create the account with.
    operator: install ? await askOperator(text('operator'), interactive) : null,
  }
}

/**
 * The first operator account: an email from the flag or the prompt (empty: none), and its
 * password from ACME_OPERATOR_PASSWORD or a hidden prompt, never from a flag (a process's
 * arguments are visible to every local user). Checked against the app's policy by `setup`.
 */
async function askOperator(
  flag: string | undefined,
  interactive: boolean,
): Promise<Operator | null> {
  const email =
    flag ??
    (interactive
      ? cancelled(
          await prompts.text({
            message: 'Email of the first operator account (empty: create none)',
            defaultValue: '',
          }),
        )
      : '')
  if (email.trim() === '') return null
  if (!EMAIL.test(email.trim())) fail(`--operator must be an email address, not "${email}".`)
  const password =
    process.env.ACME_OPERATOR_PASSWORD ||
    (interactive
      ? cancelled(await prompts.password({ message: `Password for ${email.trim()}` }))
      : fail(
          '--operator needs the password in ACME_OPERATOR_PASSWORD (never on the command line).',
        ))
  return { email: email.trim(), password }
}

/**
 * The project's `setup` script (template: src/setup.ts): the Prisma client generated, the
 * migrations applied, the operator account created. The password travels in the environment.
 */
function runProjectSetup(pm: string, directory: string, operator: Operator | null): void {
  prompts.log.step(`${pm} run setup`)
  const result = spawnSync(pm, ['run', 'setup'], {
    cwd: directory,
    stdio: 'inherit',
    shell: process.platform === 'win32',
    env: {
      ...process.env,
      ...(operator
        ? { ACME_OPERATOR_EMAIL: operator.email, ACME_OPERATOR_PASSWORD: operator.password }
        : {}),
    },
  })
  if (result.status !== 0) {
    fail(
      `${pm} run setup failed; fix the error above, then run it again in ${directory}` +
        (operator ? ' with ACME_OPERATOR_EMAIL and ACME_OPERATOR_PASSWORD set.' : '.'),
    )
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
        operator: { type: 'string' },
        packages: { type: 'string' },
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
  const install = values.install !== false && !values['no-install']
  if (!install && typeof values.operator === 'string') {
    fail('--operator needs the install: the account is created by the installed project.')
  }
  const answers = await ask(values, positionals[0], interactive, install)
  try {
    if (answers.databaseUrl) await checkDatabaseUrl(answers.databaseUrl)
    const created = createProject({
      ...answers,
      ...(typeof values.packages === 'string' ? { packagesDir: values.packages } : {}),
    })
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
    if (install) {
      prompts.log.step(`${pm} install`)
      const result = spawnSync(pm, ['install'], {
        cwd: created.directory,
        stdio: 'inherit',
        shell: process.platform === 'win32',
      })
      if (result.status !== 0)
        fail(`${pm} install failed; fix the error above and run it again in ${created.directory}.`)
      runProjectSetup(pm, created.directory, answers.operator)
    }
    const dir = relative(process.cwd(), created.directory) || '.'
    prompts.outro(
      [
        'Next steps:',
        `  cd ${dir}`,
        ...(install
          ? []
          : [`  ${pm} install`, `  ${pm} run setup      # migrations; operator account`]),
        `  ${pm} start            # serves http://localhost:3000/docs`,
      ].join('\n'),
    )
  } catch (error) {
    if (error instanceof CreateAppError) fail(`${error.message} (${error.code})`)
    throw error
  }
}

await main()
