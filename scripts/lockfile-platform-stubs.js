#!/usr/bin/env node
// Adds lockfile entries for the foreign-platform optional binaries (darwin, win32, android, …) of @swc/core and
// unrs-resolver. This machine's npm registry mirror serves only the linux builds, so `npm install` leaves those entries
// out, and `npm ci` then refuses the lockfile as "out of sync". Each stub carries the os/cpu/libc npm needs to skip it
// on other platforms, exactly as a lockfile written against the full registry would. Run after `npm install`.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const file = path.resolve(__dirname, '..', 'package-lock.json');
const lock = JSON.parse(fs.readFileSync(file, 'utf8'));
const OS = ['darwin', 'win32', 'android', 'freebsd', 'openharmony', 'linux', 'sunos', 'netbsd'];
const CPU = { arm64: 'arm64', x64: 'x64', ia32: 'ia32', arm: 'arm', ppc64: 'ppc64', s390x: 's390x', riscv64: 'riscv64', loong64: 'loong64' };

function platformOf(name) {
  const parts = name.split('/').pop().split('-');
  const os = parts.find((p) => OS.includes(p));
  const cpu = parts.map((p) => CPU[p]).find(Boolean);
  const libc = parts.some((p) => p.startsWith('musl')) ? 'musl' : parts.some((p) => p.startsWith('gnu')) ? 'glibc' : undefined;
  return os && cpu ? { os, cpu, libc } : undefined;
}

let added = 0;
for (const [key, entry] of Object.entries(lock.packages)) {
  for (const [dep, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const depKey = `node_modules/${dep}`;
    if (lock.packages[depKey] || lock.packages[`${key}/${depKey}`]) continue;
    const platform = platformOf(dep);
    if (!platform) continue; // not a platform binary: leave npm's own judgement alone
    lock.packages[depKey] = {
      version,
      cpu: [platform.cpu],
      ...(platform.libc ? { libc: [platform.libc] } : {}),
      license: entry.license,
      optional: true,
      os: [platform.os],
    };
    added += 1;
  }
}
lock.packages = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))));
fs.writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`lockfile-platform-stubs: ${added} foreign-platform entries added`);
