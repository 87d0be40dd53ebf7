import { cpus, freemem, loadavg, release, totalmem } from 'node:os';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/** Facts about where a run happened, so numbers from different machines are never compared blindly. */
export interface MachineFacts {
  cores: number;
  cpuModel: string;
  totalMemGiB: number;
  freeMemGiB: number;
  kernel: string;
  node: string;
  kafka: string;
  kafkajs: string;
  java: string;
  /** 1, 5 and 15 minute load averages; other engineers' tests share these cores. */
  loadAvg: number[];
}

const gib = (bytes: number): number => Math.round((bytes / 2 ** 30) * 10) / 10;

export function loadAverage(): number[] {
  return loadavg().map((x) => Math.round(x * 100) / 100);
}

function kafkajsVersion(): string {
  const require = createRequire(import.meta.url);
  const pkg = JSON.parse(readFileSync(require.resolve('kafkajs/package.json'), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

export function machineFacts(kafkaVersion: string, javaVersion: string): MachineFacts {
  const cpu = cpus();
  return {
    cores: cpu.length,
    cpuModel: cpu[0]?.model ?? 'unknown',
    totalMemGiB: gib(totalmem()),
    freeMemGiB: gib(freemem()),
    kernel: release(),
    node: process.version,
    kafka: kafkaVersion,
    kafkajs: kafkajsVersion(),
    java: javaVersion,
    loadAvg: loadAverage(),
  };
}
