import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';

/**
 * Makes the test environment's Prometheus scrape `targets` (host:port, every second, path /metrics)
 * under a file named after `name`; a later call with the same name replaces them. Labels are added to
 * every sample. Prometheus picks the file up within about a second.
 */
export function setScrapeTargets(name: string, targets: string[], labels: Record<string, string> = {}): void {
  const file = join(inject('prometheusTargetsDir'), `${name}.json`);
  // Written aside and renamed, so Prometheus never reads half a file.
  writeFileSync(`${file}.tmp`, JSON.stringify([{ targets, labels }]));
  renameSync(`${file}.tmp`, file);
}

export function removeScrapeTargets(name: string): void {
  rmSync(join(inject('prometheusTargetsDir'), `${name}.json`), { force: true });
}
