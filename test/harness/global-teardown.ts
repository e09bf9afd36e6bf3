import { rmSync } from 'node:fs';
import { ENV } from './paths';

export default async function globalTeardown(): Promise<void> {
  await globalThis.__WXREFUND_DEV_SERVER__?.stop();
  const bundle = process.env[ENV.workflowBundle];
  if (bundle?.includes('workflow-bundle-')) rmSync(bundle, { force: true });
}
