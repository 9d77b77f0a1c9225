import type { Command } from 'commander'
import { clearPoison, listPoison, poisonAudit } from '../operations.js'
import { action, confirm } from './context.js'
import { age, fields, table, when } from './format.js'

/** `holdfast poison …`: ls, audit, clear. */
export function poisonCommands(program: Command): void {
  const poison = program.command('poison').description('held poison keys, their audit trail, operator clears')
  poison
    .command('ls')
    .description('held keys with token and age')
    .option('--prefix <prefix>', 'only keys starting with this')
    .action(
      action(async (ctx, _args, o) => {
        const held = await listPoison(await ctx.store(), o.prefix as string | undefined)
        return {
          json: held,
          text: () =>
            table(held, [
              { heading: 'KEY', cell: (p) => p.key },
              { heading: 'TOKEN', cell: (p) => p.token },
              { heading: 'SINCE', cell: (p) => when(p.createdAt) },
              { heading: 'AGE', cell: (p) => age(p.ageMs) },
            ]),
        }
      }),
    )

  poison
    .command('audit [key]')
    .description('the audit trail of clears and operator actions, oldest first')
    .action(
      action(async (ctx, [key]) => {
        const trail = await poisonAudit(await ctx.store(), key)
        return {
          json: trail,
          text: () =>
            table(trail, [
              { heading: 'AT', cell: (a) => when(a.at) },
              { heading: 'KEY', cell: (a) => a.key },
              { heading: 'TOKEN', cell: (a) => a.token },
              { heading: 'BY', cell: (a) => a.by },
              { heading: 'REASON', cell: (a) => a.reason },
            ]),
        }
      }),
    )

  poison
    .command('clear <key>')
    .description('remove a held key whatever its token (clearPoison; audited); asks first on a terminal')
    .requiredOption('--by <who>', 'who clears it (recorded)')
    .option('--reason <text>', 'why (recorded)')
    .option('-y, --yes', 'do not ask')
    .action(
      action(async (ctx, [key], o) => {
        const store = await ctx.store()
        const token = await store.poison.getPoison(key!)
        await confirm(`clear poison key ${JSON.stringify(key)}${token === null ? '' : ` held by ${JSON.stringify(token)}`}?`, o.yes)
        const cleared = await clearPoison(store, key!, { by: o.by as string, ...(o.reason === undefined ? {} : { reason: o.reason as string }) })
        return { json: cleared, text: () => fields([['cleared', cleared.key], ['token', cleared.token], ['by', cleared.by], ['reason', cleared.reason]]) }
      }),
    )
}
