import type { Command } from 'commander'
import { allSubscribers, planRewind, resumeSubscriber, rewindSubscriber, type SubscriberView } from '../operations.js'
import { action, confirm } from './context.js'
import { age, fields, paint, table } from './format.js'

const subscriberTable = (rows: SubscriberView[]): string =>
  table(rows, [
    { heading: 'KEY', cell: (s) => s.key },
    { heading: 'WORKER', cell: (s) => s.workerId },
    { heading: 'STATE', cell: (s) => s.state },
    { heading: 'POSITION', cell: (s) => s.position, right: true },
    { heading: 'LAG', cell: (s) => s.lag, right: true },
    { heading: 'BEHIND', cell: (s) => s.positionsBehind, right: true },
    { heading: 'LAST ACK', cell: (s) => age(s.lastAckAgeMs) },
    { heading: 'PARKED ON', cell: (s) => (s.parked ? `${s.parked.eventId}: ${s.parked.error}` : null) },
  ])

/** `holdfast subscribers …`: ls, resume, rewind. */
export function subscribersCommands(program: Command): void {
  const subscribers = program.command('subscribers').description('subscriptions: state, lag, resume, rewind')
  subscribers
    .command('ls')
    .description('key, worker, state (active / parked / idle), cursor position, lag, last acknowledgement age')
    .option('--no-runners', 'leave out ProcedureRunner leases (keys holdfast/procedure-runner/…)')
    .action(
      action(async (ctx, _args, o) => {
        const all = await allSubscribers(await ctx.store())
        const subs = all.filter((s) => s.kind === 'subscription')
        const runners = o.runners === false ? [] : all.filter((s) => s.kind === 'procedure-runner')
        return {
          json: { subscribers: subs, runners },
          text: () => {
            const body = subscriberTable(subs)
            return runners.length === 0 ? body : `${body}\n\n${paint('bold', 'procedure runners')}\n${subscriberTable(runners)}`
          },
        }
      }),
    )

  subscribers
    .command('resume <key>')
    .description('resume a parked subscription (resumeParked; audited): the same batch is delivered again')
    .requiredOption('--by <who>', 'who resumes it (recorded)')
    .option('--reason <text>', 'why (recorded)')
    .option('--skip', 'also move past the failing event: it is never delivered again')
    .action(
      action(async (ctx, [key], o) => {
        const view = await resumeSubscriber(await ctx.store(), key!, { by: o.by as string, ...(o.reason === undefined ? {} : { reason: o.reason as string }), ...(o.skip ? { skip: true } : {}) })
        return { json: view, text: () => `resumed ${key}${o.skip ? ' (skipped the failing event)' : ''}; state ${view.state}` }
      }),
    )

  subscribers
    .command('rewind <key>')
    .description('move a subscription back (rewindSubscription; audited); says how many events are delivered again and asks first')
    .requiredOption('--to <where>', "'beginning' or a cursor")
    .requiredOption('--by <who>', 'who rewinds it (recorded)')
    .option('--reason <text>', 'why (recorded)')
    .option('-y, --yes', 'do not ask')
    .action(
      action(async (ctx, [key], o) => {
        const store = await ctx.store()
        const plan = await planRewind(store, key!, o.to as string)
        const approx = plan.exact ? '' : 'about '
        const what = plan.skip > 0 ? `skip ${approx}${plan.skip} event(s) without delivering them` : `deliver ${approx}${plan.redeliver} event(s) again (of every type; its filter may select fewer)`
        process.stderr.write(`rewinding ${key} from position ${plan.fromPosition} to ${plan.toPosition} will ${what}\n`)
        await confirm(`rewind ${key}?`, o.yes)
        const done = await rewindSubscriber(store, key!, { to: o.to as string, by: o.by as string, ...(o.reason === undefined ? {} : { reason: o.reason as string }) })
        return {
          json: done,
          text: () => fields([['rewound', key!], ['from', done.fromPosition], ['to', done.toPosition], ['redeliver', done.redeliver], ['skip', done.skip]]),
        }
      }),
    )
}
