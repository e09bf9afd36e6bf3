export default async function globalTeardown(): Promise<void> {
  await globalThis.__WXREFUND_DEV_SERVER__?.stop();
}
