/**
 * Issue 9, scenario 1: the worker is SIGKILLed at seeded random moments while refunds are in flight, and restarted.
 *
 * The refunds are requested in waves, one wave before each kill. Inside a wave every refund gets a seeded role that
 * holds it in one of the three phases the issue names, long enough for a kill to land there:
 *  - submit   — HANG on its first create (before WeChat stores anything; the worker's HTTP client gives up at 10 s);
 *  - accepted — SLOW on its first create (WeChat stored the refund, the reply is held 9 s: the activity has not
 *               returned), and its notification dropped, so only the query before the resend can tell it was accepted;
 *  - polling  — its notification is DROPped and the refund stays PROCESSING for 15 s: only queries can finish it;
 *  - plain    — nothing special (notification completes it).
 * Each kill waits until its (seeded) target phase is occupied in the current wave, then waits a seeded jitter and
 * SIGKILLs the worker. Which refunds were caught in which phase is proven from the simulator (fault hit times, stored
 * or not, status) and the workflow histories at the moment of the kill, not assumed; afterwards each victim's own
 * timeline must show the consequence (the activity timed out and the resend adopted / created the refund, or polls
 * after the restart found it).
 *
 * End: every refund SUCCESS, each created at WeChat by exactly one accepted create under its own number, no payout
 * twice, the simulator's invariant report clean, every workflow final.
 */
import { DEFAULT_TIMEOUTS } from '../../src/wechatpay/transport';
import { refundHandle, type RefundReceipt } from '../../src/starter';
import { statusQuery } from '../../src/workflows/definitions';
import type { RefundStatusView } from '../../src/workflows/types';
import { activityPicture, chaosSeed, Rng, sleep, stats, waitFor } from './support/chaos';
import { sized } from './support/profile';
import {
  awaitAll,
  checkMoney,
  checkProgress,
  isReceipt,
  plannedRefunds,
  requestAll,
  type PlannedRefund,
} from './support/refunds';
import { reportFigures } from './support/report';
import { MCHID, startReliabilityStack, type ReliabilityStack } from './support/stack';

const SEED = chaosSeed(9_1_2026);
const REFUNDS = sized(50, 300);
const KILLS = sized(3, 9);
/** Balance refunds settle this many seconds after acceptance (the simulator runs in real time here). */
const SETTLE_SECONDS = 15;
/** SLOW holds the create reply this long after the refund was stored; below the client's 10 s header timeout. */
const SLOW_MS = 9_000;
/** The worker's HTTP client abandons a hanging call after this; a HANG victim must be killed before. */
const CLIENT_TIMEOUT_MS = DEFAULT_TIMEOUTS.headersMs;

jest.setTimeout(sized(8, 40) * 60_000);

type Role = 'plain' | 'hang' | 'slow' | 'drop';
type Phase = 'submit' | 'accepted' | 'polling';
const PHASES: readonly Phase[] = ['submit', 'accepted', 'polling'];
const ROLE_OF_PHASE: Record<Phase, Role> = { submit: 'hang', accepted: 'slow', polling: 'drop' };

interface KillRecord {
  kill: number;
  target: Phase;
  /** ms since the scenario started */
  atMs: number;
  jitterMs: number;
  downMs: number;
  restartMs: number;
  victims: Record<Phase, string[]>;
  /** Polling victims whose query activity was running when the worker died. */
  queriesInFlight: number;
  killedAt: number;
  restartedAt: number;
}

let stack: ReliabilityStack;

beforeAll(async () => {
  stack = await startReliabilityStack('worker-kill', {
    simulator: {
      seed: SEED,
      timeScale: 1,
      lifecycle: { balanceDelaySeconds: SETTLE_SECONDS },
    },
  });
});

afterAll(async () => {
  await stack?.close();
});

it('SIGKILLed worker during submit, after WeChat accepted, and during polling: all refunds complete, none doubled', async () => {
  const began = Date.now();
  const rng = new Rng(SEED);
  console.log(`[reliability] worker-kill: seed ${SEED} (replay with RELIABILITY_SEED=${SEED})`);

  // Waves, roles and kill targets, all drawn from the seed up front.
  const planned = plannedRefunds('wk', REFUNDS, { amountFen: 1_000, paidTotalFen: 5_000 });
  const waves: PlannedRefund[][] = Array.from({ length: KILLS }, (_, k) =>
    planned.slice(Math.floor((k * REFUNDS) / KILLS), Math.floor(((k + 1) * REFUNDS) / KILLS)),
  );
  const targets: Phase[] = [];
  while (targets.length < KILLS) targets.push(...rng.shuffle(PHASES));
  const role = new Map<string, Role>();
  /** Per wave, the refunds that surely take the kill's target role; requested last, so their phase is fresh. */
  const forced = new Set<string>();
  waves.forEach((wave, k) => {
    const order = rng.shuffle(wave.map((r) => r.outRefundNo));
    order.forEach((no, i) => {
      // The target phase's role twice for sure; then a seeded mix of all of them.
      const r: Role = i < 2 ? ROLE_OF_PHASE[targets[k]] : rng.pick(['plain', 'plain', 'hang', 'slow', 'drop', 'drop']);
      role.set(no, r);
      if (i < 2) forced.add(no);
    });
  });
  const withRole = (r: Role) => planned.filter((p) => role.get(p.outRefundNo) === r).map((p) => p.outRefundNo);

  for (const no of withRole('hang')) {
    await stack.sim.admin.addFault({ endpoint: 'v3.create', kind: 'HANG', outRefundNo: no, times: 1 });
  }
  for (const no of withRole('slow')) {
    await stack.sim.admin.addFault({
      endpoint: 'v3.create',
      kind: 'SLOW',
      delayMs: SLOW_MS,
      outRefundNo: no,
      times: 1,
    });
  }
  // A SLOW refund's notification is dropped too, so a victim can only learn of its refund by the query before the
  // resend (adoption), never by a notification arriving while its dead activity times out.
  for (const no of [...withRole('drop'), ...withRole('slow')]) {
    await stack.sim.admin.addNotificationFault({ kind: 'DROP', outRefundNo: no });
  }

  const receipts: RefundReceipt[] = [];
  const kills: KillRecord[] = [];
  const hitAge = (at: string) => Date.now() - Date.parse(at);

  for (let k = 0; k < KILLS; k++) {
    const wave = waves[k];
    const inWave = new Set(wave.map((r) => r.outRefundNo));
    const results = [
      ...(await requestAll(
        stack,
        wave.filter((r) => !forced.has(r.outRefundNo)),
        { concurrency: 10 },
      )),
      ...(await requestAll(
        stack,
        wave.filter((r) => forced.has(r.outRefundNo)),
        { concurrency: 10 },
      )),
    ];
    const rejected = results.filter((r) => !isReceipt(r));
    expect(rejected).toEqual([]);
    receipts.push(...results.filter(isReceipt));

    // Wait until the target phase is occupied in this wave.
    const target = targets[k];
    await waitFor(
      `a refund of wave ${k} in phase ${target}`,
      async () => {
        if (target === 'polling') {
          const clock = await stack.sim.admin.clock();
          const known = await stack.sim.admin.refunds({ owner: MCHID });
          for (const no of wave.map((r) => r.outRefundNo).filter((n) => role.get(n) === 'drop')) {
            const refund = known.find((r) => r.outRefundNo === no);
            if (refund?.status !== 'PROCESSING' || (refund.nextTransitionAt ?? 0) - clock.nowMs < 7_000) continue;
            const picture = await activityPicture(stack.client, refundWorkflowIdOf(receipts, no));
            if (picture.completed.has('submitRefund')) return true;
          }
          return undefined;
        }
        const kind = target === 'submit' ? 'HANG' : 'SLOW';
        const hits = await stack.sim.admin.faultHits();
        return hits.some((h) => h.kind === kind && inWave.has(h.outRefundNo ?? '') && hitAge(h.at) < 3_000)
          ? true
          : undefined;
      },
      30_000,
      200,
    );
    const jitterMs = rng.int(0, 1_500);
    await sleep(jitterMs);

    // Snapshot what only grows (submit completed in history) for every dropped-notification refund not yet settled.
    const before = await stack.sim.admin.refunds({ owner: MCHID });
    const submitted = new Set<string>();
    const querying = new Set<string>();
    await Promise.all(
      [...withRole('drop'), ...withRole('slow')]
        .filter((no) => before.find((x) => x.outRefundNo === no)?.status === 'PROCESSING')
        .map(async (no) => {
          const picture = await activityPicture(stack.client, refundWorkflowIdOf(receipts, no));
          if (picture.completed.has('submitRefund')) submitted.add(no);
          if (picture.open.includes('queryRefund')) querying.add(no);
        }),
    );

    const atMs = Date.now() - began;
    await stack.worker.kill();
    const killedAt = Date.now();

    // Who was caught where, from facts that cannot change while no worker runs.
    const [after, hits] = await Promise.all([stack.sim.admin.refunds({ owner: MCHID }), stack.sim.admin.faultHits()]);
    const stored = new Map(after.map((r) => [r.outRefundNo, r]));
    const victims: Record<Phase, string[]> = { submit: [], accepted: [], polling: [] };
    const previousKill = kills.length ? kills[kills.length - 1].killedAt : 0;
    for (const h of hits) {
      const no = h.outRefundNo ?? '';
      const at = Date.parse(h.at);
      if (at <= previousKill) continue; // that call's worker died in an earlier kill
      // HANG: the create never reached the store, and the client was still waiting (its timeout not reached).
      if (h.kind === 'HANG' && !stored.has(no) && at > killedAt - (CLIENT_TIMEOUT_MS - 1_000)) victims.submit.push(no);
      // SLOW: stored before the hit was recorded; the held reply was not yet sent when the worker died.
      if (h.kind === 'SLOW' && stored.has(no) && at + SLOW_MS > killedAt + 250) victims.accepted.push(no);
    }
    for (const no of submitted) if (stored.get(no)?.status === 'PROCESSING') victims.polling.push(no);

    const downMs = rng.int(1_000, 4_000);
    await sleep(downMs);
    const t0 = Date.now();
    await stack.worker.start();
    const restartedAt = Date.now();
    kills.push({
      kill: k,
      target,
      atMs,
      jitterMs,
      downMs,
      restartMs: restartedAt - t0,
      victims,
      queriesInFlight: victims.polling.filter((no) => querying.has(no)).length,
      killedAt,
      restartedAt,
    });
    console.log(
      `[reliability] worker-kill: kill ${k + 1}/${KILLS} at +${atMs} ms (target ${target}, jitter ${jitterMs} ms): ` +
        `submit ${victims.submit.join(',') || '-'} | accepted ${victims.accepted.join(',') || '-'} | ` +
        `polling ${victims.polling.join(',') || '-'}; down ${downMs} ms, back in ${restartedAt - t0} ms`,
    );
  }

  // Every kill struck the phase it aimed at, and together the kills struck all three.
  for (const kill of kills)
    expect({ kill: kill.kill, hit: kill.victims[kill.target].length > 0 }).toEqual({
      kill: kill.kill,
      hit: true,
    });
  for (const phase of PHASES) {
    expect({ phase, victims: kills.flatMap((k) => k.victims[phase]).length > 0 }).toEqual({ phase, victims: true });
  }

  const outcomes = await awaitAll(stack, receipts, sized(180_000, 900_000));
  const completedAt = Date.now();
  expect(receipts).toHaveLength(REFUNDS);
  const notSuccess = [...outcomes.values()]
    .filter((o) => o.state !== 'SUCCESS')
    .map((o) => `${o.outRefundNo}:${o.state}`);
  expect(notSuccess).toEqual([]);

  // Money: nothing paid twice, nothing beyond the order, no number nobody asked for.
  const money = await checkMoney(stack, planned);
  expect(money.problems).toEqual([]);
  expect(money.ok).toBe(true);
  const progress = await checkProgress(stack, receipts);
  expect(progress.problems).toEqual([]);
  expect(progress.ok).toBe(true);

  // Each refund exists at WeChat exactly once, under its own number, paid out once.
  const atWechat = await stack.sim.admin.refunds({ owner: MCHID });
  const perNumber = new Map<string, number>();
  for (const r of atWechat) perNumber.set(r.outRefundNo, (perNumber.get(r.outRefundNo) ?? 0) + 1);
  const wrongCount = planned.filter((p) => perNumber.get(p.outRefundNo) !== 1).map((p) => p.outRefundNo);
  expect(wrongCount).toEqual([]);
  const badPayouts = atWechat.filter((r) => r.status !== 'SUCCESS' || r.payouts !== 1).map((r) => r.outRefundNo);
  expect(badPayouts).toEqual([]);

  // Creates at WeChat: exactly one accepted create per refund (a resend after a lost reply adopted the refund
  // found by its query instead of creating again). The other creates stored nothing: the HANG strikes, and at most
  // WeChat's 429 when a burst of failing calls exhausts the merchant's error budget (F22).
  const calls = await stack.sim.admin.calls();
  const create = calls['v3.create'] ?? { total: 0, byStatus: {}, byCode: {} };
  const hits = await stack.sim.admin.faultHits();
  const hangHits = hits.filter((h) => h.kind === 'HANG').length;
  const otherCreates = Object.fromEntries(
    Object.entries(create.byStatus).filter(([status]) => status !== '200' && status !== 'HANG'),
  );
  expect({ accepted: create.byStatus['200'] ?? 0, hung: create.byStatus['HANG'] ?? 0 }).toEqual({
    accepted: REFUNDS,
    hung: hangHits,
  });
  const unexpected = Object.keys(otherCreates).filter((status) => status !== '429');
  expect({ unexpected, byStatus: create.byStatus, byCode: create.byCode }).toMatchObject({ unexpected: [] });
  expect(create.byCode['FREQUENCY_LIMITED'] ?? 0).toBe(otherCreates['429'] ?? 0);

  // Each victim's own timeline shows the kill and the recovery.
  const views = new Map<string, RefundStatusView>();
  for (const receipt of receipts) {
    views.set(receipt.outRefundNo, await refundHandle(stack.client, receipt).query(statusQuery));
  }
  const retryAfterKillMs: number[] = [];
  /** From the start of the attempt that died with the worker to the resend: the 30 s start-to-close timeout. */
  const resendAfterDeadStartMs: number[] = [];
  const problems: string[] = [];
  for (const kill of kills) {
    const previousKill = kill.kill > 0 ? kills[kill.kill - 1].killedAt : 0;
    for (const phase of ['submit', 'accepted'] as const) {
      for (const no of kill.victims[phase]) {
        const view = views.get(no)!;
        const attempts = view.submitAttempts;
        // The attempt this kill cut short: started after the previous kill, before this one, timed out.
        const died = attempts.findIndex(
          (a) =>
            a.result === 'FAILED' &&
            a.error?.code === 'ACTIVITY_TIMEOUT' &&
            Date.parse(a.at) > previousKill &&
            Date.parse(a.at) < kill.killedAt,
        );
        const later = attempts.slice(died + 1).map((a) => a.result);
        const final = view.transitions[view.transitions.length - 1];
        // submit: WeChat never had it, so a later create was accepted (or, if that attempt died too, the
        // notification of the refund it created finished it). accepted: WeChat had it, so the resend's query adopted
        // it; a fresh create accepted after the death would have been a second create.
        const recovered =
          phase === 'submit'
            ? later.includes('ACCEPTED') || later.includes('ADOPTED') || final?.evidence === 'notification'
            : later.includes('ADOPTED') && !later.includes('ACCEPTED');
        if (died < 0 || view.state !== 'SUCCESS' || !recovered) {
          problems.push(
            `${phase} victim ${no} of kill ${kill.kill}: attempts ${JSON.stringify(attempts)}, ends ${JSON.stringify(final)}`,
          );
          continue;
        }
        if (attempts[died + 1]) {
          retryAfterKillMs.push(Date.parse(attempts[died + 1].at) - kill.killedAt);
          resendAfterDeadStartMs.push(Date.parse(attempts[died + 1].at) - Date.parse(attempts[died].at));
        }
      }
    }
    for (const no of kill.victims.polling) {
      // Finished by a query of the restarted worker (its notification was dropped): a poll that started before the
      // kill counts too, as long as its answer came after the restart (Temporal retried the query activity).
      const view = views.get(no)!;
      const final = view.transitions[view.transitions.length - 1];
      if (final?.to !== 'SUCCESS' || final.evidence !== 'query' || Date.parse(final.at) < kill.restartedAt) {
        problems.push(`polling victim ${no} of kill ${kill.kill}: ends ${JSON.stringify(final)}`);
      }
      if (view.notifications.length !== 0) problems.push(`polling victim ${no} got a notification it was not sent`);
    }
  }
  expect(problems).toEqual([]);

  // Alerts ("contrary evidence about a final refund") raised for operators; reported, see the scenario's notes.
  const alerted = [...views.values()].filter((v) => v.alerts.length > 0);
  if (alerted[0]) {
    const { outRefundNo, transitions, polls, notifications, submitAttempts, alerts } = alerted[0];
    const timeline = { role: role.get(outRefundNo), submitAttempts, transitions, polls, notifications, alerts };
    console.log(`[reliability] worker-kill: alert on ${outRefundNo}: ${JSON.stringify(timeline)}`);
  }

  // Times to complete: from the request to the refund workflow's close.
  const completeMs: number[] = [];
  for (const receipt of receipts) {
    const description = await refundHandle(stack.client, receipt).describe();
    completeMs.push(description.closeTime!.getTime() - Date.parse(receipt.requestedAt));
  }

  const victimsOf = (phase: Phase) => kills.reduce((n, k) => n + k.victims[phase].length, 0);
  reportFigures('worker-kill', {
    seed: SEED,
    refunds: REFUNDS,
    success: [...outcomes.values()].filter((o) => o.state === 'SUCCESS').length,
    kills: KILLS,
    killsAimedAt: Object.fromEntries(PHASES.map((p) => [p, kills.filter((k) => k.target === p).length])),
    killsThatStruck: Object.fromEntries(PHASES.map((p) => [p, kills.filter((k) => k.victims[p].length > 0).length])),
    refundsCaught: Object.fromEntries(PHASES.map((p) => [p, victimsOf(p)])),
    killTimesMs: kills.map((k) => k.atMs),
    pollingVictimsWithQueryInFlight: kills.reduce((n, k) => n + k.queriesInFlight, 0),
    roles: Object.fromEntries((['plain', 'hang', 'slow', 'drop'] as const).map((r) => [r, withRole(r).length])),
    createCalls: create.total,
    createCallsPerRefund: Number((create.total / REFUNDS).toFixed(3)),
    createByStatus: create.byStatus,
    refundsWithAlerts: alerted.length,
    alertSamples: alerted.slice(0, 3).map((v) => `${v.outRefundNo}: ${v.alerts[0]}`),
    queryCalls: calls['v3.query']?.total ?? 0,
    refundsAtWechat: atWechat.length,
    duplicatePayouts: money.report.duplicatePayouts.length,
    completeMs: stats(completeMs),
    activityRetryAfterKillMs: stats(retryAfterKillMs),
    resendAfterDeadAttemptStartMs: stats(resendAfterDeadStartMs),
    workerRestartMs: stats(kills.map((k) => k.restartMs)),
    workerDownMs: stats(kills.map((k) => k.downMs + k.restartMs)),
    lastKillToAllDoneMs: completedAt - kills[kills.length - 1].killedAt,
    scenarioMs: Date.now() - began,
  });
  // No operator alert: a reply written before settlement that arrives after it is stale news, not contrary evidence
  // (this suite found such false alarms under kills; src/domain/status.ts).
  expect(alerted.map((v) => `${v.outRefundNo}: ${v.alerts.join('; ')}`)).toEqual([]);
});

function refundWorkflowIdOf(receipts: RefundReceipt[], outRefundNo: string): string {
  const receipt = receipts.find((r) => r.outRefundNo === outRefundNo);
  if (!receipt) throw new Error(`no receipt for ${outRefundNo}`);
  return receipt.refundWorkflowId;
}
