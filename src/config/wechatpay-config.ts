/**
 * The older single-merchant file (WECHATPAY_CONFIG, YAML or JSON) from before the merchant registry, validated by the
 * protocol layer's own schemas: `{ apiVersion: v3, v3: { mchid, merchantSerialNo, merchantPrivateKey: <path or PEM>,
 * apiV3Key, platformCertificates | wechatpayPublicKeys, notifyUrl, ... } }` or `{ apiVersion: v2, v2: { ... } }`.
 *
 * It is still read, as a registry of one default merchant (src/merchants/registry.ts; docs/merchants.md), so
 * deployments that have it keep working; unlike a registry file it may hold its keys inline.
 */
import { z } from 'zod';
import { v3GatewayConfigSchema } from '../wechatpay/v3/gateway';
import { v2GatewayConfigSchema } from '../wechatpay/v2/gateway';

export const merchantFileSchema = z.discriminatedUnion('apiVersion', [
  z.object({ apiVersion: z.literal('v3'), v3: v3GatewayConfigSchema }).strict(),
  z.object({ apiVersion: z.literal('v2'), v2: v2GatewayConfigSchema }).strict(),
]);
