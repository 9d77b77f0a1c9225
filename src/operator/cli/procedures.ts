import { Option, type Command } from 'commander'
import type { ProcedureStatus } from '../../runtime/procedures/types.js'
import { listProcedures, showProcedure } from '../operations.js'
import { action, integer } from './context.js'
import { fields, short, table, when } from './format.js'

/** `holdfast procedures …`: ls, show. */
export function proceduresCommands(program: Command): void {
  const procedures = program.command('procedures').description('durable procedures (ProcedureRunner)')
  procedures
    .command('ls')
    .description('procedures in id order')
    .addOption(new Option('--status <status>', 'only this status').choices(['running', 'done', 'failed', 'poisoned']))
    .option('--after <id>', 'page after this id')
    .option('--limit <n>', 'at most this many (default 100)', integer)
    .action(
      action(async (ctx, _args, o) => {
        const page = await listProcedures(await ctx.store(), {
          ...(o.status === undefined ? {} : { status: o.status as ProcedureStatus }),
          ...(o.after === undefined ? {} : { after: o.after as string }),
          ...(o.limit === undefined ? {} : { limit: o.limit as number }),
        })
        return {
          json: page,
          text: () =>
            table(page.procedures, [
              { heading: 'ID', cell: (p) => p.id },
              { heading: 'TYPE', cell: (p) => p.type },
              { heading: 'STATUS', cell: (p) => p.status },
              { heading: 'STEP', cell: (p) => p.step },
              { heading: 'KEYS', cell: (p) => p.keys.join(',') },
              { heading: 'UPDATED', cell: (p) => when(p.updatedAt) },
              { heading: 'ERROR', cell: (p) => (p.error === null ? null : short(`${p.errorStep}: ${p.error}`)) },
            ]),
        }
      }),
    )

  procedures
    .command('show <id>')
    .description('one procedure: status, step, state, input, error, keys')
    .action(
      action(async (ctx, [id]) => {
        const p = await showProcedure(await ctx.store(), id!)
        return {
          json: p,
          text: () =>
            `${fields([
              ['id', p.id],
              ['type', p.type],
              ['status', p.status],
              ['step', p.step],
              ['keys', p.keys.join(', ')],
              ['runner', p.runnerId],
              ['started', when(p.startedAt)],
              ['updated', when(p.updatedAt)],
              ['error', p.error === null ? null : `${p.errorStep}: ${p.error}`],
              ['input', JSON.stringify(p.input)],
            ])}\n\n${JSON.stringify(p.state, null, 2)}`,
        }
      }),
    )
}
