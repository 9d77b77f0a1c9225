import type { Command } from 'commander'
import { listTraces, pruneTrace, pruneTraces, showCheckpoint, traceTimeline } from '../operations.js'
import { action, integer, UsageError } from './context.js'
import { fields, Progress, short, table, when } from './format.js'

/** `holdfast checkpoints …`: traces, ls, show, prune. */
export function checkpointsCommands(program: Command): void {
  const checkpoints = program.command('checkpoints').description('checkpoint traces, timelines, states, pruning')
  checkpoints
    .command('traces')
    .description('traces in id order, with their checkpoint counts')
    .option('--after <trace>', 'page after this trace id')
    .option('--limit <n>', 'at most this many (default 100)', integer)
    .action(
      action(async (ctx, _args, o) => {
        const page = await listTraces(await ctx.store(), { ...(o.after === undefined ? {} : { after: o.after as string }), ...(o.limit === undefined ? {} : { limit: o.limit as number }) })
        return {
          json: page,
          text: () =>
            table(page.traces, [
              { heading: 'TRACE', cell: (t) => t.traceId },
              { heading: 'CHECKPOINTS', cell: (t) => t.count, right: true },
              { heading: 'LATEST', cell: (t) => when(t.latestAt) },
            ]) + (page.nextAfter ? `\nnext: --after ${page.nextAfter}` : ''),
        }
      }),
    )

  checkpoints
    .command('ls <trace>')
    .description("a trace's timeline, oldest first")
    .option('--offset <n>', 'skip this many', integer)
    .option('--limit <n>', 'at most this many (default 100)', integer)
    .action(
      action(async (ctx, [trace], o) => {
        const t = await traceTimeline(await ctx.store(), trace!, { ...(o.offset === undefined ? {} : { offset: o.offset as number }), ...(o.limit === undefined ? {} : { limit: o.limit as number }) })
        return {
          json: t,
          text: () =>
            `${t.traceId}: ${t.total} checkpoint(s)\n` +
            table(t.checkpoints, [
              { heading: 'ID', cell: (c) => c.id },
              { heading: 'PARENT', cell: (c) => c.parentId },
              { heading: 'CREATED', cell: (c) => when(c.createdAt) },
              { heading: 'METADATA', cell: (c) => short(JSON.stringify(c.metadata)) },
            ]),
        }
      }),
    )

  checkpoints
    .command('show <id>')
    .description("one checkpoint with its state, decoded by the store's serializer")
    .action(
      action(async (ctx, [id]) => {
        const c = await showCheckpoint(await ctx.store(), id!)
        return {
          json: c,
          text: () => `${fields([['id', c.id], ['parent', c.parentId], ['created', when(c.createdAt)], ['metadata', JSON.stringify(c.metadata)]])}\n\n${JSON.stringify(c.state, null, 2)}`,
        }
      }),
    )

  checkpoints
    .command('prune [trace]')
    .description('delete all but the newest --keep checkpoints of a trace (or of every trace with --all)')
    .requiredOption('--keep <n>', 'checkpoints to keep per trace', integer)
    .option('--all', 'every trace')
    .option('--prefix <prefix>', 'with --all: only traces whose id starts with this')
    .action(
      action(async (ctx, [trace], o) => {
        if ((trace === undefined) === (o.all !== true)) throw new UsageError('give a trace id or --all')
        const store = await ctx.store()
        let result
        if (trace !== undefined) result = await pruneTrace(store, trace, o.keep as number)
        else {
          const progress = new Progress('pruning traces')
          result = await pruneTraces(store, o.keep as number, (o.prefix as string | undefined) ?? '', (n) => progress.update(n))
          progress.done()
        }
        return { json: result, text: () => `deleted ${result.deleted} checkpoint(s) from ${result.traces} trace(s)` }
      }),
    )
}
