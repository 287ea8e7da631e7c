// Configurations taken verbatim from Whereabouts' repository (test/fixtures/upstream/k8snetworkplumbingwg/whereabouts,
// see SOURCE.md there): fenced blocks of its docs, raw-string configs of its Go tests (placeholders filled the way
// those tests fill them), NADs from its YAML. Nothing here is rewritten except where SOURCE.md says.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ROOT } from './cni.js';

export const WB_FIXTURES = join(ROOT, 'test/fixtures/upstream/k8snetworkplumbingwg/whereabouts');

export type NetConf = Record<string, unknown> & { ipam: Record<string, unknown> };

const text = (file: string) => readFileSync(join(WB_FIXTURES, file), 'utf8');

/** The n-th (0-based) fenced code block of a Markdown file. */
export function markdownBlock(file: string, n: number): string {
  const blocks = [...text(file).matchAll(/```[a-z]*\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const b = blocks[n];
  if (b === undefined) throw new Error(`${file} has ${blocks.length} code blocks, not ${n + 1}`);
  return b;
}

/**
 * The k-th raw string starting with '{' after `It("title"` in a Go test, with fmt verbs filled as fmt.Sprintf
 * would fill them from `args` (%s as is, %q quoted, %v as is).
 */
export function goConfig(file: string, title: string, k = 0, args: readonly string[] = []): string {
  const src = text(file);
  const at = src.indexOf(`It("${title}"`);
  if (at < 0) throw new Error(`${file} has no It("${title}")`);
  const raw = [...src.slice(at).matchAll(/`(\{[\s\S]*?)`/g)].map((m) => m[1]!);
  const s = raw[k];
  if (s === undefined) throw new Error(`It("${title}") in ${file} has no raw config #${k}`);
  let i = 0;
  return s.replace(/%([sqv])/g, (_, verb: string) => {
    const a = args[i++];
    if (a === undefined) throw new Error(`It("${title}"): too few arguments for its fmt verbs`);
    return verb === 'q' ? JSON.stringify(a) : a;
  });
}

/** A Go function's raw-string template (e2e/util), filled like fmt.Sprintf. */
export function goTemplate(file: string, func: string, args: readonly string[]): string {
  const src = text(file);
  const at = src.indexOf(`func ${func}(`);
  if (at < 0) throw new Error(`${file} has no func ${func}`);
  const s = /`(\{[\s\S]*?)`/.exec(src.slice(at))![1]!;
  let i = 0;
  return s.replace(/%([sqv])/g, () => args[i++] ?? '');
}

/** The first JSON object of a text that may hold more (doc/sample_config.json holds two fragments). */
export function firstObject(s: string): string {
  let depth = 0;
  const start = s.indexOf('{');
  for (let i = start; i < s.length; i++) {
    if (s[i] === '{') depth++;
    else if (s[i] === '}' && --depth === 0) return s.slice(start, i + 1);
  }
  throw new Error('no complete JSON object');
}

/**
 * A NetworkAttachmentDefinition's spec.config. README's node-slice NAD closes its quoted config at the key's own
 * indentation, which strict YAML 1.2 refuses: then the single-quoted scalar is read by hand (lines folded to spaces).
 */
export function nadConfig(yamlText: string): string {
  try {
    const nad = parseYaml(yamlText) as { spec: { config: string } };
    return nad.spec.config;
  } catch {
    const m = /config: '([\s\S]*)'/.exec(yamlText);
    if (!m) throw new Error('no spec.config in the NAD');
    return m[1]!.replace(/\s*\n\s*/g, ' ').replace(/''/g, "'");
  }
}

export function readFixture(file: string): string {
  return text(file);
}

/**
 * What a runtime hands the plugin: a single plugin's configuration (a conflist's first plugin with the list's
 * cniVersion and name, as libcni builds it), with `ipam.type` naming our plugin instead of "whereabouts".
 */
export function asPluginConf(json: string, name: string): NetConf {
  const c = JSON.parse(json) as Record<string, unknown>;
  const plugin = (Array.isArray(c.plugins) ? { ...(c.plugins[0] as object), cniVersion: c.cniVersion, name: c.name ?? name } : { ...c, name: c.name ?? name }) as unknown as NetConf;
  return { ...plugin, ipam: { ...plugin.ipam, type: 'ipam-es' } };
}
