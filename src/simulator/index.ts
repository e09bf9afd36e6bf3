/** Public surface of the WeChat Pay simulator (see README.md in this folder). */
export { startSimulator, parseSimulatorConfig, SimulatorConfigError } from './server';
export type { SimulatorHandle } from './server';
export { simulatorConfigSchema, WECHAT_RETRY_SCHEDULE_SECONDS } from './config';
export type { SimulatorConfig, SimulatorConfigInput } from './config';
export { SimulatorAdminClient, SimulatorAdminError } from './admin-client';
export type { AdminRefund } from './admin-client';
export {
  DEFAULT_KEYS_DIR,
  MANIFEST_FILE,
  loadSimulatorManifest,
  v2GatewayConfigFor,
  v3GatewayConfigFor,
} from './manifest';
export type { ManifestMerchant, SimulatorManifest } from './manifest';
export { DEMO_DIRECT_MCHID, DEMO_PROVIDER_MCHID, DEMO_SUB_MCHID, DEMO_V2_MCHID } from './keys';
export type { PlatformCertificateRotation } from './key-rotation';
export type { EndpointFaultInput, NotificationFaultInput, ForcedOutcomeInput, EndpointId } from './fault-schemas';
export type { BillFault, BillFaultInput } from './bills/bill-faults';
export type { BillSnapshotView } from './bills/bill-book';
export type { PortalRefundInput } from './portal-refunds';
