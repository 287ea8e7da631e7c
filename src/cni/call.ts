// One CNI invocation as the plugin binary saw it: the CNI_* environment, checked per command (SPEC.md, section 2).
import { CniCommand, CniError, CniErrorCode } from './protocol.js';

/** The environment variables the plugin forwards, by name. */
export type CniEnv = Readonly<Partial<Record<'CNI_COMMAND' | 'CNI_CONTAINERID' | 'CNI_NETNS' | 'CNI_IFNAME' | 'CNI_ARGS' | 'CNI_PATH', string>>>;

export interface CniCall {
  readonly command: CniCommand;
  readonly containerID: string;
  readonly ifname: string;
  readonly netns: string;
  readonly args: CniArgs;
}

/** The CNI_ARGS keys Kubernetes runtimes pass; others are ignored (they are meant for other plugins). */
export interface CniArgs {
  readonly podNamespace?: string;
  readonly podName?: string;
  readonly podUid?: string;
  /** Whereabouts' IPAMEnvArgs IP and GATEWAY: static addresses ("10.0.0.5/24,fd00::5/64") and their gateways. */
  readonly ip?: string;
  readonly gateway?: string;
}

const COMMANDS = new Set<string>(Object.values(CniCommand));
/** SPEC.md: starts with an alphanumeric character, then alphanumerics, '_', '.', '-'. */
const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const REQUIRED: Readonly<Record<CniCommand, readonly ('CNI_CONTAINERID' | 'CNI_NETNS' | 'CNI_IFNAME')[]>> = {
  ADD: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME'],
  CHECK: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME'],
  DEL: ['CNI_CONTAINERID', 'CNI_IFNAME'],
  GC: [],
  STATUS: [],
  VERSION: [],
};

const envError = (names: string, reason: string) => new CniError(CniErrorCode.InvalidEnvironment, `invalid environment variable ${names}`, reason);

export function parseCall(env: CniEnv): CniCall {
  const command = env.CNI_COMMAND ?? '';
  if (!COMMANDS.has(command)) {
    throw envError('CNI_COMMAND', command ? `${JSON.stringify(command)} is not one of ${[...COMMANDS].join(', ')}` : 'is required');
  }
  const cmd = command as CniCommand;
  const missing = REQUIRED[cmd].filter((k) => !env[k]);
  if (missing.length > 0) throw envError(missing.join(', '), `${cmd} requires ${missing.join(', ')} to be set and non-empty`);
  const containerID = env.CNI_CONTAINERID ?? '';
  if (containerID && !CONTAINER_ID.test(containerID)) {
    throw envError('CNI_CONTAINERID', `${JSON.stringify(containerID)} must start with a letter or digit and hold only letters, digits, '_', '.' and '-'`);
  }
  const ifname = env.CNI_IFNAME ?? '';
  if (ifname) checkIfname(ifname);
  return { command: cmd, containerID, ifname, netns: env.CNI_NETNS ?? '', args: parseArgs(env.CNI_ARGS ?? '') };
}

/** Linux interface names: 1-15 bytes, no '/', ':' or whitespace, not "." or "..". */
function checkIfname(name: string): void {
  const bad = Buffer.byteLength(name) > 15 || /[/:\s]/.test(name) || name === '.' || name === '..';
  if (bad) throw envError('CNI_IFNAME', `${JSON.stringify(name)} is not a valid interface name (at most 15 bytes, no '/', ':' or whitespace)`);
}

/** "K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;K8S_POD_UID=u;IgnoreUnknown=1" */
export function parseArgs(text: string): CniArgs {
  const out: { -readonly [K in keyof CniArgs]?: string } = {};
  if (text === '') return out;
  for (const pair of text.split(';')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) throw envError('CNI_ARGS', `${JSON.stringify(pair)} is not KEY=VALUE (pairs are separated by ';')`);
    const key = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    if (key === 'K8S_POD_NAMESPACE') out.podNamespace = value;
    else if (key === 'K8S_POD_NAME') out.podName = value;
    else if (key === 'K8S_POD_UID') out.podUid = value;
    else if (key === 'IP') out.ip = value;
    else if (key === 'GATEWAY') out.gateway = value;
  }
  return out;
}
