// `ipam kubeconfig`: a kubeconfig for the daemon's TCP API (server URL, certificate-authority-data, bearer token),
// so kubectl and @kubernetes/client-node verify the daemon's certificate and send the token.
import { resolve } from 'node:path';
import { stringify } from 'yaml';
import { DaemonClient } from '../daemon-client.js';
import { CliError, daemonCa, type GlobalOptions } from '../connection.js';

export interface KubeconfigOptions {
  readonly name: string;
}

export function kubeconfigDocument(o: { server: string; ca: string; token: string; name: string }): object {
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: o.name, cluster: { server: o.server, 'certificate-authority-data': Buffer.from(o.ca).toString('base64') } }],
    users: [{ name: o.name, user: { token: o.token } }],
    contexts: [{ name: o.name, context: { cluster: o.name, user: o.name } }],
    'current-context': o.name,
  };
}

export function kubeconfig(g: GlobalOptions, o: KubeconfigOptions): void {
  const server = g.server ?? 'https://127.0.0.1:7475';
  if (!server.startsWith('https://')) throw new CliError(`--server ${server}: kubectl sends a token only over https; give the daemon's https:// URL`);
  const ca = daemonCa(g);
  if (!ca) throw new CliError(`no CA at ${resolve(g.dataDir, 'tls', 'ca.crt')}: start the daemon once (\`npm start\`) so it generates one, or give --ca-file (the CA of --tls-cert)`);
  const token = DaemonClient.tokenFrom(g.tokenFile, resolve(g.dataDir, 'token'));
  if (!token) throw new CliError(`no token: give --token-file FILE or IPAM_TOKEN, or start the daemon once so it generates ${resolve(g.dataDir, 'token')}`);
  process.stdout.write(stringify(kubeconfigDocument({ server, ca, token, name: o.name })));
}
