// A member is one server process of a service: the single node, or node i of a local cluster.
// Each has its own run folder (data, config, server.log, server.pid).
import path from 'node:path';
import { HOST } from './config.mjs';

/**
 * @param service the service name ('cassandra', …)
 * @param dir the member's run folder
 * @param options { index (1-based), host, label, topology: 'single' | 'cluster' }
 */
export function member(service, dir, { index = 1, host = HOST, label = service, topology = 'single' } = {}) {
  return {
    service,
    index,
    host,
    label,
    topology,
    dir,
    log: path.join(dir, 'server.log'),
    pidFile: path.join(dir, 'server.pid'),
  };
}

/** Members 1..n of a local cluster under <runDir>/<folder>/<prefix><i>, on 127.0.0.<i>. */
export function clusterMembers(service, runDir, folder, prefix, n) {
  return Array.from({ length: n }, (_, k) =>
    member(service, path.join(runDir, folder, `${prefix}${k + 1}`), {
      index: k + 1,
      host: `127.0.0.${k + 1}`,
      label: `${service} ${prefix}${k + 1}`,
      topology: 'cluster',
    }),
  );
}
