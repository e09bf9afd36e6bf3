/**
 * Typed client of the simulator's admin API, for tests, the demo and the workflow tests. Throws SimulatorAdminError
 * (with the HTTP status and the server's message) on any non-2xx reply.
 */
import { Agent, request } from 'undici';
import type {
  AdvanceClockInput,
  BillFault,
  BillFaultInput,
  BillSnapshotView,
  CallCounts,
  ClockView,
  EndpointFault,
  InvariantReport,
  MerchantView,
  NotificationFault,
  PatchMerchantInput,
  PatchOrderInput,
  PatchSettingsInput,
  PlatformCertificateRotation,
  PortalRefundInput,
  ReplaceFaultsInput,
  RotatePlatformCertificateInput,
  SeedOrderInput,
  SimNotification,
  SimOrder,
  SimRefund,
} from './admin-schemas';
import type { EndpointFaultInput, ForcedOutcomeInput, NotificationFaultInput } from './fault-schemas';
import type { FaultHit } from './faults';
import type { SimulatorManifest } from './manifest';
import type { RefundStatus, SigningMode } from './model';

export class SimulatorAdminError extends Error {
  override readonly name = 'SimulatorAdminError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(`simulator admin API ${status}: ${message}`);
  }
}

export type AdminRefund = SimRefund & { nextTransitionAt?: number };

export class SimulatorAdminClient {
  private readonly agent: Agent;

  /** `adminUrl` is the admin root, e.g. http://127.0.0.1:8090/__admin. */
  constructor(
    readonly adminUrl: string,
    tls: { ca?: string } = {},
  ) {
    this.agent = new Agent({ connect: tls.ca ? { ca: tls.ca } : {} });
  }

  private async call<T>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T> {
    const res = await request(`${this.adminUrl}${path}`, {
      method,
      dispatcher: this.agent,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.body.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (res.statusCode < 200 || res.statusCode >= 300) {
      const message = (json as { error?: string } | undefined)?.error ?? text;
      throw new SimulatorAdminError(res.statusCode, message);
    }
    return json as T;
  }

  health(): Promise<{ ok: boolean }> {
    return this.call('GET', '/health');
  }

  manifest(): Promise<SimulatorManifest> {
    return this.call('GET', '/manifest');
  }

  // Clock ------------------------------------------------------------------------------------------------------

  clock(): Promise<ClockView> {
    return this.call('GET', '/clock');
  }

  /** Jump simulated time; resolves once every timer due on the way fired and its deliveries finished. */
  advance(by: AdvanceClockInput): Promise<ClockView> {
    return this.call('POST', '/clock/advance', by);
  }

  setTimeScale(timeScale: number): Promise<ClockView> {
    return this.call('PUT', '/clock/scale', { timeScale });
  }

  // Orders and merchants ----------------------------------------------------------------------------------------

  seedOrder(order: SeedOrderInput): Promise<SimOrder> {
    return this.call('POST', '/orders', order);
  }

  orders(): Promise<SimOrder[]> {
    return this.call('GET', '/orders');
  }

  patchOrder(outTradeNo: string, patch: PatchOrderInput): Promise<SimOrder> {
    return this.call('PATCH', `/orders/${encodeURIComponent(outTradeNo)}`, patch);
  }

  merchants(): Promise<MerchantView[]> {
    return this.call('GET', '/merchants');
  }

  /** `owner`: a merchant, or a sub-merchant (balance only). */
  patchMerchant(owner: string, patch: PatchMerchantInput): Promise<MerchantView> {
    return this.call('PATCH', `/merchants/${encodeURIComponent(owner)}`, patch);
  }

  setBalance(owner: string, balanceFen: number): Promise<MerchantView> {
    return this.patchMerchant(owner, { balanceFen });
  }

  /** Sign this merchant's replies and notifications in `signWith` mode from now on (`publicKey`: PUB_KEY_ID_…). */
  setMerchantSigning(mchid: string, signWith: SigningMode): Promise<MerchantView> {
    return this.patchMerchant(mchid, { signWith });
  }

  // WeChat's keys ---------------------------------------------------------------------------------------------------

  /**
   * WeChat issues a new platform certificate that signs from now on; GET /v3/certificates lists it beside the old
   * ones, unless `retireOld`. The manifest (and keysDir) is updated.
   */
  rotatePlatformCertificate(opts: RotatePlatformCertificateInput = {}): Promise<PlatformCertificateRotation> {
    return this.call('POST', '/wechat/platform-certificates/rotate', opts);
  }

  // Refunds and notifications ------------------------------------------------------------------------------------

  refunds(filter: { owner?: string; outTradeNo?: string; status?: RefundStatus } = {}): Promise<AdminRefund[]> {
    return this.call('GET', `/refunds${queryString(filter)}`);
  }

  refund(outRefundNo: string, owner?: string): Promise<AdminRefund> {
    return this.call('GET', `/refunds/${encodeURIComponent(outRefundNo)}${queryString({ owner })}`);
  }

  /** Force the outcome of an existing refund, or of one created later under this number. */
  forceOutcome(
    outRefundNo: string,
    outcome: Omit<ForcedOutcomeInput, 'outRefundNo'>,
  ): Promise<{ applied: 'now' | 'pending'; refund?: AdminRefund }> {
    return this.call('POST', `/refunds/${encodeURIComponent(outRefundNo)}/force`, outcome);
  }

  /** An operator handles an ABNORMAL refund in the merchant portal (no API call by the merchant's code). */
  portalResolve(
    outRefundNo: string,
    opts: { owner?: string; type?: 'USER_BANK_CARD' | 'MERCHANT_BANK_CARD' } = {},
  ): Promise<AdminRefund> {
    return this.call('POST', `/refunds/${encodeURIComponent(outRefundNo)}/portal-resolve`, opts);
  }

  /**
   * A refund made in the merchant portal (not through the API): accepted under the usual rules, processed and notified
   * like any refund, listed in the day's bill; the merchant's engine never saw it.
   */
  portalRefund(input: PortalRefundInput): Promise<AdminRefund> {
    return this.call('POST', '/portal-refunds', input);
  }

  // Refund bills (§12) -------------------------------------------------------------------------------------------

  /** Bills made so far (each is a snapshot taken when first requested once ready). */
  bills(filter: { mchid?: string; billDate?: string } = {}): Promise<BillSnapshotView[]> {
    return this.call('GET', `/bills${queryString(filter)}`);
  }

  /** MISSING: the day's bill does not exist; CORRUPT: its v3 download no longer matches hash_value. */
  addBillFault(fault: BillFaultInput): Promise<BillFault> {
    return this.call('POST', '/bill-faults', fault);
  }

  billFaults(): Promise<BillFault[]> {
    return this.call('GET', '/bill-faults');
  }

  removeBillFault(id: string): Promise<BillFault[]> {
    return this.call('DELETE', `/bill-faults/${encodeURIComponent(id)}`);
  }

  clearBillFaults(): Promise<BillFault[]> {
    return this.call('DELETE', '/bill-faults');
  }

  notifications(
    filter: { outRefundNo?: string; owner?: string; state?: SimNotification['state'] } = {},
  ): Promise<SimNotification[]> {
    return this.call('GET', `/notifications${queryString(filter)}`);
  }

  // Faults -------------------------------------------------------------------------------------------------------

  faults(): Promise<{ faults: EndpointFault[]; notificationFaults: NotificationFault[] }> {
    return this.call('GET', '/faults');
  }

  addFault(fault: EndpointFaultInput): Promise<EndpointFault> {
    return this.call('POST', '/faults', fault);
  }

  addNotificationFault(fault: NotificationFaultInput): Promise<NotificationFault> {
    return this.call('POST', '/notification-faults', fault);
  }

  replaceFaults(
    faults: ReplaceFaultsInput,
  ): Promise<{ faults: EndpointFault[]; notificationFaults: NotificationFault[] }> {
    return this.call('PUT', '/faults', faults);
  }

  removeFault(id: string): Promise<unknown> {
    return this.call('DELETE', `/faults/${encodeURIComponent(id)}`);
  }

  clearFaults(): Promise<unknown> {
    return this.call('DELETE', '/faults');
  }

  faultHits(): Promise<FaultHit[]> {
    return this.call('GET', '/fault-hits');
  }

  // Settings -----------------------------------------------------------------------------------------------------

  /** Rules, budgets, lifecycle delays, notification settings (as configured, or as patched since). */
  settings(): Promise<Required<PatchSettingsInput>> {
    return this.call('GET', '/settings');
  }

  /** Change rules / budgets / delays at run time; reset() restores the configured values. */
  patchSettings(patch: PatchSettingsInput): Promise<Required<PatchSettingsInput>> {
    return this.call('PATCH', '/settings', patch);
  }

  // Observability -------------------------------------------------------------------------------------------------

  calls(): Promise<CallCounts> {
    return this.call('GET', '/calls');
  }

  invariants(): Promise<InvariantReport> {
    return this.call('GET', '/invariants');
  }

  /** Forget orders, refunds, notifications, counters; balances and faults back to the configuration. */
  reset(): Promise<{ ok: boolean; clock: ClockView }> {
    return this.call('POST', '/reset');
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

function queryString(params: Record<string, string | undefined>): string {
  const entries = Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined);
  return entries.length === 0 ? '' : `?${new URLSearchParams(entries).toString()}`;
}
