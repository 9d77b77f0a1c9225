import type { Command } from 'commander'
import { eventStats, readEvents, tailEvents, type EventFilter, type EventView } from '../operations.js'
import { action, integer } from './context.js'
import { age, clean, fields, paint, Progress, short, table, when } from './format.js'

const filters = (c: Command): Command =>
  c
    .option('--type <type>', 'aggregate type')
    .option('--id <id>', 'aggregate id (with --type)')
    .option('--name <name>', 'event name (with --type)')
    .option('--routing-key <key>', 'routing key')

const filterOf = (o: Record<string, unknown>): EventFilter => ({
  ...(o.type === undefined ? {} : { type: o.type as string }),
  ...(o.id === undefined ? {} : { id: o.id as string }),
  ...(o.name === undefined ? {} : { name: o.name as string }),
  ...(o.routingKey === undefined ? {} : { routingKey: o.routingKey as string }),
})

const payload = (e: EventView): string => short(e.data.encoding === 'json' ? JSON.stringify(e.data.value) : e.data.encoding === 'base64' ? `base64:${e.data.value}` : e.data.value, 70)

const eventTable = (events: EventView[]): string =>
  table(events, [
    { heading: 'POSITION', cell: (e) => e.position, right: true },
    { heading: 'TIME', cell: (e) => when(e.timestamp) },
    { heading: 'TYPE', cell: (e) => e.aggregatorType },
    { heading: 'ID', cell: (e) => e.aggregatorId },
    { heading: 'VER', cell: (e) => e.version, right: true },
    { heading: 'NAME', cell: (e) => e.name },
    { heading: 'ROUTING', cell: (e) => e.routingKey },
    { heading: 'DATA', cell: payload },
  ])

/** `holdfast events …`: read, tail, stats. */
export function eventsCommands(program: Command): void {
  const events = program.command('events').description('read, follow and count events')
  filters(events.command('read').description('a page of events (cursors both ways); data as JSON, UTF-8 text, else base64'))
    .option('--first <n>', 'page forward: this many', integer)
    .option('--after <cursor>', 'page forward after this cursor')
    .option('--last <n>', 'page backward: this many', integer)
    .option('--before <cursor>', 'page backward before this cursor')
    .action(
      action(async (ctx, _args, o) => {
        const page = await readEvents(await ctx.store(), {
          ...filterOf(o),
          ...(['first', 'after', 'last', 'before'] as const).reduce((a, k) => (o[k] === undefined ? a : { ...a, [k]: o[k] }), {}),
        })
        return {
          json: page,
          text: () => {
            const p = page.pageInfo
            const nav = [p.hasPreviousPage && p.startCursor ? `previous: --last N --before ${p.startCursor}` : '', p.hasNextPage && p.endCursor ? `next: --first N --after ${p.endCursor}` : '']
            return [eventTable(page.events), ...nav.filter(Boolean).map((l) => paint('dim', l))].join('\n')
          },
        }
      }),
    )

  filters(events.command('tail').description('follow new events live (push wake-ups) until interrupted'))
    .option('--after <cursor>', 'catch up from this cursor first (default: only new events)')
    .action(
      action(async (ctx, _args, o) => {
        const store = await ctx.store()
        const stop = new AbortController()
        const interrupted = (): void => stop.abort()
        process.once('SIGINT', interrupted)
        process.once('SIGTERM', interrupted)
        const progress = new Progress('catching up')
        let header = !ctx.options.json
        try {
          await tailEvents(store, filterOf(o), {
            ...(o.after === undefined ? {} : { after: o.after as string }),
            signal: stop.signal,
            onProgress: (through, last) => progress.update(through, last),
            onEvents: (batch) => {
              if (ctx.options.json) {
                // One JSON document per line: a stream has no end to close a single document with.
                for (const e of batch) process.stdout.write(`${JSON.stringify(e)}\n`)
                return
              }
              progress.done()
              const lines = eventTable(batch).split('\n')
              process.stdout.write(`${(header ? lines : lines.slice(1)).join('\n')}\n`)
              header = false
            },
          })
        } finally {
          progress.done()
          process.off('SIGINT', interrupted)
          process.off('SIGTERM', interrupted)
        }
      }),
    )

  events
    .command('stats')
    .description('counts by aggregate type, first and last position and time')
    .action(
      action(async (ctx) => {
        const progress = new Progress('counting')
        const stats = await eventStats(await ctx.store(), (through, last) => progress.update(through, last))
        progress.done()
        return {
          json: stats,
          text: () =>
            [
              fields([
                ['events', stats.total],
                ['first', stats.first ? `${stats.first.position} at ${when(stats.first.timestamp)}` : '-'],
                ['last', stats.last ? `${stats.last.position} at ${when(stats.last.timestamp)} (${age(Date.now() - stats.last.timestamp)} ago)` : '-'],
              ]),
              '',
              table(stats.byType, [
                { heading: 'TYPE', cell: (t) => clean(t.aggregatorType) },
                { heading: 'EVENTS', cell: (t) => t.count, right: true },
                { heading: 'FIRST', cell: (t) => t.firstPosition, right: true },
                { heading: 'LAST', cell: (t) => t.lastPosition, right: true },
                { heading: 'LAST AT', cell: (t) => when(t.lastAt) },
              ]),
            ].join('\n'),
        }
      }),
    )
}
