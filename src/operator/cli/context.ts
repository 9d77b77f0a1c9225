import { existsSync } from 'node:fs'
import { createInterface } from 'node:readline/promises'
import { InvalidArgumentError as UsageArgumentError, type Command } from 'commander'
import { HoldfastError, NotFoundError } from '../../errors.js'
import { openStore, type OpenStoreOptions } from '../../open-store.js'
import type { Store } from '../../store.js'
import { paint } from './format.js'

/** The options every command takes (declared on the program). */
export interface GlobalOptions {
  db: string
  schema?: string
  json?: boolean
}

/** Bad usage: exit code 2. */
export class UsageError extends Error {}

/** What a command produced: the JSON document for `--json`, and the text for people. */
export interface Output {
  json: unknown
  text: () => string
}

/** What an action is handed: the global options, and the store (opened on first use, closed after the action). */
export interface Context {
  options: GlobalOptions
  store(extra?: Pick<OpenStoreOptions, 'onMigrate'>, create?: boolean): Promise<Store>
}

/** A file path (not a URL of another backend) that does not exist yet. */
function missingFile(url: string): string | null {
  if (url === 'memory:' || /^postgres(ql)?:\/\//i.test(url) || url === 'sqlite::memory:') return null
  const path = url.startsWith('sqlite:') ? url.slice('sqlite:'.length).replace(/^\/\//, '') : url
  return existsSync(path) ? null : path
}

/**
 * Wraps a commander action: opens the store when asked, prints the output (`--json`: one JSON document on stdout),
 * and maps failures to the exit codes: 1 for a Holdfast error (`CODE: message` on stderr), 2 for bad usage.
 */
export function action(run: (ctx: Context, args: string[], opts: Record<string, unknown>) => Promise<Output | void>): (...all: unknown[]) => Promise<void> {
  return async (...all) => {
    const command = all.at(-1) as Command
    const opts = all.at(-2) as Record<string, unknown>
    const args = all.slice(0, -2) as string[]
    const options = command.optsWithGlobals<GlobalOptions>()
    let opened: Store | undefined
    const ctx: Context = {
      options,
      store: async (extra, create = false) => {
        const missing = create ? null : missingFile(options.db)
        // Opening creates a SQLite file: a typo in --db must not leave an empty database behind.
        if (missing !== null) throw new NotFoundError(`no database at ${JSON.stringify(missing)} (give --db, set HOLDFAST_DB, or create it with holdfast migrate)`)
        opened ??= await openStore({ url: options.db, ...(options.schema ? { schema: options.schema } : {}), ...extra })
        return opened
      },
    }
    try {
      const out = await run(ctx, args, opts)
      if (out) process.stdout.write(options.json ? `${JSON.stringify(out.json, null, 2)}\n` : `${out.text()}\n`)
    } catch (err) {
      process.exitCode = report(err)
    } finally {
      await opened?.close().catch(() => {})
    }
  }
}

/** Prints an error and returns its exit code. */
export function report(err: unknown): number {
  if (err instanceof UsageError || err instanceof UsageArgumentError) {
    process.stderr.write(`${paint('red', 'error', process.stderr)}: ${err.message}\n`)
    return 2
  }
  if (err instanceof HoldfastError) {
    process.stderr.write(`${paint('red', err.code, process.stderr)}: ${err.message}\n`)
    return 1
  }
  process.stderr.write(`INTERNAL: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  return 1
}

/**
 * Asks before a change that cannot be undone: `--yes` skips the question; on a non-terminal without `--yes` the
 * change is refused as bad usage (a script must say it means it).
 */
export async function confirm(question: string, yes: unknown): Promise<void> {
  if (yes === true) return
  if (process.stdin.isTTY !== true || process.stderr.isTTY !== true) throw new UsageError(`${question} — refused: not a terminal; pass --yes to confirm`)
  const rl = createInterface({ input: process.stdin, output: process.stderr })
  try {
    const answer = (await rl.question(`${question} [y/N] `)).trim().toLowerCase()
    if (answer !== 'y' && answer !== 'yes') throw new UsageError('not confirmed; nothing was changed')
  } finally {
    rl.close()
  }
}

/** A commander argument parser for a non-negative integer (bad values are usage errors, exit 2). */
export function integer(value: string): number {
  if (!/^\d{1,15}$/.test(value)) throw new UsageArgumentError(`expected a non-negative integer, got ${JSON.stringify(value)}`)
  return Number(value)
}
