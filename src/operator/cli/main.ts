#!/usr/bin/env node
/**
 * `holdfast [--db URL] <command>`: the operator's CLI. One file per command group; every command prints a table,
 * or one JSON document with `--json`. Exit codes: 0 success, 1 a Holdfast error (`CODE: message` on stderr), 2 bad
 * usage.
 * @module
 */
import { Command, CommanderError } from 'commander'
import { adminCommands } from './admin.js'
import { checkpointsCommands } from './checkpoints.js'
import { docsCommands } from './docs.js'
import { eventsCommands } from './events.js'
import { packagesCommands } from './packages.js'
import { poisonCommands } from './poison.js'
import { proceduresCommands } from './procedures.js'
import { subscribersCommands } from './subscribers.js'

/** The `holdfast` program, ready to parse. */
function program(): Command {
  const p = new Command('holdfast')
    .description('operate a Holdfast store: events, subscribers, poison keys, packages, checkpoints, procedures, Automerge documents')
    .option('--db <url>', 'the store: a SQLite file, sqlite:…, postgres://…, memory: (default $HOLDFAST_DB, then ./holdfast.db)', process.env.HOLDFAST_DB || './holdfast.db')
    .option('--schema <name>', 'PostgreSQL schema (default $HOLDFAST_SCHEMA, then holdfast)', process.env.HOLDFAST_SCHEMA || undefined)
    .option('--json', 'print one JSON document on stdout instead of a table')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride((err: CommanderError) => {
      // Help and version are successes; every other parse failure is bad usage.
      throw err
    })
  for (const add of [eventsCommands, subscribersCommands, poisonCommands, packagesCommands, checkpointsCommands, proceduresCommands, docsCommands, adminCommands]) add(p)
  // A group without a subcommand prints its help and is bad usage; subcommands inherit the exit override.
  for (const group of p.commands) {
    group.exitOverride((err) => {
      throw err
    })
    for (const c of group.commands) c.exitOverride((err) => {
      throw err
    })
  }
  return p
}

try {
  await program().parseAsync(process.argv)
} catch (err) {
  if (err instanceof CommanderError) process.exitCode = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0 ? 0 : 2
  else throw err
}
