import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { CliError } from './cli-error.js'

/**
 * The Prisma commands `acme prisma <command>` runs for you. Each works without Prisma's native
 * schema engine (bundled WebAssembly, or no engine at all), but the Prisma CLI still tries to
 * download that engine when it starts, which fails offline: acme points the engine variable at
 * an existing file so the download is skipped (docs/prisma.md lists them).
 */
export const WRAPPED_PRISMA_COMMANDS = [
  'generate',
  'validate',
  'format',
  'version',
  'studio',
] as const

export type WrappedPrismaCommand = (typeof WRAPPED_PRISMA_COMMANDS)[number]

export function isWrappedPrismaCommand(command: string): command is WrappedPrismaCommand {
  return (WRAPPED_PRISMA_COMMANDS as readonly string[]).includes(command)
}

/**
 * Commands acme does not wrap, and what to run instead. With the engine variable set, Prisma's
 * `migrate` and `db` commands do not fail: they print nothing and exit 0, so wrapping them would
 * hide that nothing happened.
 */
const INSTEAD: Record<string, string> = {
  init:
    'use `acme init`: it writes your schema to prisma/app/schema.prisma, whereas `prisma init` ' +
    'writes prisma/schema.prisma, the file `acme prisma merge` generates',
  migrate:
    "`prisma migrate` needs Prisma's native schema engine, which it downloads when it runs: use " +
    '`acme migrate diff --name <name>`, `acme migrate apply` and `acme migrate status` (no ' +
    'download), or with network access run `npx prisma migrate …` yourself',
  db:
    "`prisma db` needs Prisma's native schema engine, which it downloads when it runs: apply " +
    'schema changes as migrations (`acme migrate diff`, then `acme migrate apply`), or with ' +
    'network access run `npx prisma db …` yourself',
}

/** Refuses a Prisma command acme does not run, naming what to run instead. */
export function unsupportedPrismaCommand(command: string): CliError {
  const instead =
    INSTEAD[command] ??
    `acme runs only ${WRAPPED_PRISMA_COMMANDS.join(', ')} (and merge) for you; run \`npx prisma ${command}\` yourself`
  return new CliError('ACME_CLI_PRISMA_COMMAND_UNSUPPORTED', `acme prisma ${command}: ${instead}`)
}

/**
 * The environment of a wrapped Prisma command: the caller's, with `PRISMA_SCHEMA_ENGINE_BINARY`
 * pointing at a file that exists (Node itself, unless the caller chose one), which stops the
 * engine download these commands do not need.
 */
export function prismaCliEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return {
    ...env,
    PRISMA_SCHEMA_ENGINE_BINARY: env.PRISMA_SCHEMA_ENGINE_BINARY || process.execPath,
  }
}

/** Runs the app's own Prisma CLI with `args`, the engine download switched off. */
export function runPrismaCli(cwd: string, args: string[]): number {
  const require = createRequire(join(cwd, 'package.json'))
  let cli: string
  try {
    cli = require.resolve('prisma/build/index.js')
  } catch {
    throw new CliError(
      'ACME_CLI_PRISMA_NOT_INSTALLED',
      'The "prisma" package is not installed in this app: pnpm add -D prisma (or npm i -D prisma)',
    )
  }
  const result = spawnSync(process.execPath, [cli, ...args], {
    cwd,
    stdio: 'inherit',
    env: prismaCliEnv(process.env),
  })
  return result.status ?? 1
}

export interface WrappedCommandContext {
  /** The merged schema (`output`), which the schema commands work on. */
  schema: string
  /** `--check` of `acme prisma format`. */
  check: boolean
  /** The database Studio browses (`--url`; else Prisma reads its own config). */
  url: string | undefined
  /** Whatever followed `--` on acme's command line, handed to Prisma as is. */
  passthrough: readonly string[]
}

/** The Prisma command line for one wrapped command. */
export function wrappedPrismaArgs(
  command: WrappedPrismaCommand,
  context: WrappedCommandContext,
): string[] {
  switch (command) {
    case 'generate':
    case 'validate':
    case 'format': {
      const check = command === 'format' && context.check ? ['--check'] : []
      return [command, '--schema', context.schema, ...check, ...context.passthrough]
    }
    case 'studio':
      return ['studio', ...(context.url ? ['--url', context.url] : []), ...context.passthrough]
    case 'version':
      return ['version', ...context.passthrough]
  }
}
