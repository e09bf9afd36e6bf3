/**
 * Every citation of the specification in src/ and test/ resolves to docs/ (see docs/README.md):
 * - `§n.m` (optionally `§n.m step k` / `steps k–l`) to a heading numbered n.m of docs/wechatpay-protocol.md, or of
 *   another Markdown file when the `§` directly follows its name (`BENCHMARKS.md §5`);
 * - `M<n>` / `F<n>` to the row of the rule table (§2.1) or fault catalogue (§8.6) that starts with that ID;
 * and every Markdown link inside docs/ points to an existing file and, with `#anchor`, to an existing heading.
 *
 * Plain node:fs, synchronous, no Markdown parser: a few hundred files take some tens of milliseconds.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';

const ROOT = __dirname.replace(/\\/g, '/').replace(/\/test\/unit\/docs$/, '');
const PROTOCOL = 'docs/wechatpay-protocol.md';
/** The external reference this repository's docs replace; citations naming it mean the protocol document. */
const SPEC_NAMES = new Set(['wechatpay-protocol.md', 'wechatpay-refund.md']);
const SCANNED_DIRS = ['src', 'test'];
const EXCLUDED_DIRS = new Set(['test/fixtures', 'node_modules']);
/** This file: its citations are examples of the patterns, checked by the pattern tests below. */
const SELF = 'test/unit/docs/citations.test.ts';

// ---------------------------------------------------------------------------------------------------------------
// Paths (no node:path: POSIX-style, repo-relative)

function normalize(p: string): string {
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return out.join('/');
}

function dirOf(rel: string): string {
  const i = rel.lastIndexOf('/');
  return i < 0 ? '' : rel.slice(0, i);
}

const abs = (rel: string): string => `${ROOT}/${rel}`;
const exists = (rel: string): boolean => existsSync(abs(rel));

function walk(dir: string, exts: readonly string[], out: string[] = []): string[] {
  if (!exists(dir)) return out;
  for (const entry of readdirSync(abs(dir), { withFileTypes: true })) {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory()) {
      if (!EXCLUDED_DIRS.has(rel) && !entry.name.startsWith('.')) walk(rel, exts, out);
    } else if (exts.some((e) => entry.name.endsWith(e))) {
      out.push(rel);
    }
  }
  return out;
}

const fileCache = new Map<string, string[]>();
function linesOf(rel: string): string[] {
  let lines = fileCache.get(rel);
  if (!lines) {
    lines = readFileSync(abs(rel), 'utf8').split(/\r?\n/);
    fileCache.set(rel, lines);
  }
  return lines;
}

// ---------------------------------------------------------------------------------------------------------------
// Markdown structure: headings (numbers, GitHub anchors), numbered steps per section, ID rows of tables

interface Section {
  /** Ordered-list item numbers directly inside the section (up to the next heading). */
  steps: Set<number>;
}

interface MarkdownIndex {
  /** Section number ("3.9", "11") → section. */
  sections: Map<string, Section>;
  /** Every anchor a link may target: GitHub heading slugs and explicit `<a id>` / `<a name>`. */
  anchors: Set<string>;
  /** IDs in the first cell of a table row (`| M3 | …`). */
  rowIds: Set<string>;
}

/** GitHub's heading anchor: lower case, punctuation dropped (letters of any script kept), spaces → hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/<[^>]*>/g, '')
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

const mdCache = new Map<string, MarkdownIndex>();
function indexMarkdown(rel: string): MarkdownIndex {
  const cached = mdCache.get(rel);
  if (cached) return cached;
  const index: MarkdownIndex = { sections: new Map(), anchors: new Set(), rowIds: new Set() };
  const seen = new Map<string, number>();
  let current: Section | undefined;
  let fenced = false;
  for (const line of linesOf(rel)) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    if (fenced) continue;
    for (const m of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) index.anchors.add(m[1]);
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) {
      const base = slug(heading[1]);
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      index.anchors.add(n === 0 ? base : `${base}-${n}`);
      const numbered = /^(\d+(?:\.\d+)*)\.?\s/.exec(heading[1]);
      current = undefined;
      if (numbered) {
        current = { steps: new Set() };
        index.sections.set(numbered[1], current);
      }
      continue;
    }
    const step = /^\s*(\d+)\.\s/.exec(line);
    if (step && current) current.steps.add(Number(step[1]));
    const row = /^\|\s*([A-Z]+\d+)\s*\|/.exec(line);
    if (row) index.rowIds.add(row[1]);
  }
  mdCache.set(rel, index);
  return index;
}

// ---------------------------------------------------------------------------------------------------------------
// Citations

interface Citation {
  where: string;
  text: string;
}

/** `§3.9`, `§8.3 step 9`, `§8.3 steps 6–11`; the number never swallows a sentence's final dot. */
const SECTION = /§\s?(\d+(?:\.\d+)*)(?:\s+steps?\s+(\d+)(?:\s*[–-]\s*(\d+))?)?/g;
/** A Markdown file named right before the `§` (`see BENCHMARKS.md §5`), possibly in quotes or backticks. */
const FILE_BEFORE = /([\w./-]+\.md)[`'"]?\s*$/;
/**
 * Rule / fault IDs as whole words: `M4`, `'M4'`, `(M4)`, `M3–M6`, `§4.5/F11`, and PascalCase names ending in one
 * (`RefundRuleM4`). Not parts of hyphenated or alphanumeric tokens: test data `R2-F1`, `R-M3`, `MGF1`, hex `0xF1`.
 */
const TAG = /(?<![\w-])(?:[A-Z][a-z]+)*([MF](?:[1-9]\d?|0))(?![\w-])/g;

function sectionProblems(file: string, lineNo: number, line: string, found: Citation[], problems: string[]): void {
  for (const m of line.matchAll(SECTION)) {
    const where = `${file}:${lineNo}`;
    found.push({ where, text: m[0] });
    const before = FILE_BEFORE.exec(line.slice(0, m.index));
    let target = PROTOCOL;
    if (before && !SPEC_NAMES.has(before[1].split('/').pop() ?? '')) {
      const candidates = [normalize(`${dirOf(file)}/${before[1]}`), normalize(before[1])];
      const hit = candidates.find(exists);
      if (!hit) {
        problems.push(`${where}: ${m[0]} cites ${before[1]}, which does not exist`);
        continue;
      }
      target = hit;
    }
    const section = indexMarkdown(target).sections.get(m[1]);
    if (!section) {
      problems.push(`${where}: ${m[0]}: no heading numbered ${m[1]} in ${target}`);
      continue;
    }
    if (m[2] !== undefined) {
      const from = Number(m[2]);
      const to = m[3] === undefined ? from : Number(m[3]);
      for (let k = from; k <= to; k++) {
        if (!section.steps.has(k)) problems.push(`${where}: ${m[0]}: ${target} §${m[1]} has no step ${k}`);
      }
    }
  }
}

function tagProblems(file: string, lineNo: number, line: string, found: Citation[], problems: string[]): void {
  const defined = indexMarkdown(PROTOCOL).rowIds;
  for (const m of line.matchAll(TAG)) {
    const where = `${file}:${lineNo}`;
    found.push({ where, text: m[1] });
    if (!defined.has(m[1])) {
      const table = m[1].startsWith('M') ? 'rule table (§2.1)' : 'fault catalogue (§8.6)';
      problems.push(`${where}: ${m[0]}: ${m[1]} is not a row of the ${table} in ${PROTOCOL}`);
    }
  }
}

function scan(files: readonly string[]) {
  const sections: Citation[] = [];
  const tags: Citation[] = [];
  const problems: string[] = [];
  for (const file of files) {
    const lines = linesOf(file);
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      if (line.includes('§')) sectionProblems(file, i + 1, line, sections, problems);
      if (/[MF]\d/.test(line)) tagProblems(file, i + 1, line, tags, problems);
    }
  }
  return { sections, tags, problems };
}

// ---------------------------------------------------------------------------------------------------------------
// Links inside docs/

function linkProblems(docs: readonly string[]) {
  const problems: string[] = [];
  let count = 0;
  for (const file of docs) {
    const lines = linesOf(file);
    let fenced = false;
    for (let i = 0; i < lines.length; i++) {
      if (/^\s*(```|~~~)/.test(lines[i])) fenced = !fenced;
      if (fenced) continue;
      const line = lines[i].replace(/`[^`]*`/g, '');
      const targets = [
        ...[...line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]),
        ...[...line.matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/g)].map((m) => m[1]),
      ];
      for (const target of targets) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
        count++;
        const where = `${file}:${i + 1}`;
        const hash = target.indexOf('#');
        const pathPart = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
        const anchor = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
        const dest = pathPart === '' ? file : normalize(`${dirOf(file)}/${pathPart}`);
        if (!exists(dest)) {
          problems.push(`${where}: link to ${target}: ${dest} does not exist`);
          continue;
        }
        if (anchor === undefined || anchor === '') continue;
        if (!dest.endsWith('.md') || statSync(abs(dest)).isDirectory()) {
          problems.push(`${where}: link to ${target}: anchors are only checked in Markdown files`);
        } else if (!indexMarkdown(dest).anchors.has(anchor)) {
          problems.push(`${where}: link to ${target}: no heading or anchor #${anchor} in ${dest}`);
        }
      }
    }
  }
  return { count, problems };
}

// ---------------------------------------------------------------------------------------------------------------

const docFiles = walk('docs', ['.md']);
const codeFiles = SCANNED_DIRS.flatMap((d) => walk(d, ['.ts', '.md'])).filter((f) => f !== SELF);
const code = scan(codeFiles);
const docsSelf = scan(docFiles);
const links = linkProblems(docFiles);

describe('docs/: the specification the code cites', () => {
  test('the protocol document has sections §0–§12 with §11.1/§11.2, rules M1–M12 and faults F1–F22', () => {
    const index = indexMarkdown(PROTOCOL);
    const missing = [
      ...Array.from({ length: 13 }, (_, n) => String(n)),
      '3.9',
      '8.3',
      '8.6',
      '11.1',
      '11.2',
      '12.1',
    ].filter((n) => !index.sections.has(n));
    const ids = [
      ...Array.from({ length: 12 }, (_, n) => `M${n + 1}`),
      ...Array.from({ length: 22 }, (_, n) => `F${n + 1}`),
    ].filter((id) => !index.rowIds.has(id));
    expect({ missingSections: missing, missingIds: ids }).toEqual({ missingSections: [], missingIds: [] });
    expect(index.sections.get('8.3')?.steps.has(11)).toBe(true);
  });

  test('the scanner sees the code (guards against silently scanning nothing)', () => {
    expect(codeFiles.some((f) => f.startsWith('src/'))).toBe(true);
    expect(codeFiles.some((f) => f.startsWith('test/fixtures/'))).toBe(false);
    expect(codeFiles).toContain('src/domain/refund-caps.ts');
    expect(code.sections.length).toBeGreaterThan(100);
    expect(code.tags.length).toBeGreaterThan(50);
  });

  test(`all ${code.sections.length} § citations and ${code.tags.length} M/F tags in src/ and test/ resolve`, () => {
    expect(code.problems).toEqual([]);
  });

  test(`the ${docsSelf.sections.length} § citations and ${docsSelf.tags.length} M/F tags inside docs/ resolve`, () => {
    expect(docsSelf.problems).toEqual([]);
  });

  test(`all ${links.count} internal links in docs/ point to existing files and anchors`, () => {
    expect(links.problems).toEqual([]);
  });
});

describe('citation patterns', () => {
  test('unresolvable citations are reported with file:line', () => {
    // Built at run time, so that this file's own source cites nothing unresolvable.
    const S = String.fromCharCode(0xa7);
    const [m13, f23] = ['M' + 13, 'F' + 23];
    const found: Citation[] = [];
    const problems: string[] = [];
    sectionProblems(
      'src/x.ts',
      7,
      `${S}13.4, ${S}8.3 step 12, NOWHERE.md ${S}1, ${S}3.9 and ${S}8.3 steps 6–11`,
      found,
      problems,
    );
    tagProblems('src/x.ts', 8, `rule ${m13}, fault ${f23}, ${'M'}4 and RefundRule${m13}`, found, problems);
    expect(found).toHaveLength(9);
    expect(problems).toEqual([
      `src/x.ts:7: ${S}13.4: no heading numbered 13.4 in ${PROTOCOL}`,
      `src/x.ts:7: ${S}8.3 step 12: ${PROTOCOL} ${S}8.3 has no step 12`,
      `src/x.ts:7: ${S}1 cites NOWHERE.md, which does not exist`,
      `src/x.ts:8: ${m13}: ${m13} is not a row of the rule table (${S}2.1) in ${PROTOCOL}`,
      `src/x.ts:8: ${f23}: ${f23} is not a row of the fault catalogue (${S}8.6) in ${PROTOCOL}`,
      `src/x.ts:8: RefundRule${m13}: ${m13} is not a row of the rule table (${S}2.1) in ${PROTOCOL}`,
    ]);
  });

  const tagsIn = (s: string) => [...s.matchAll(TAG)].map((m) => m[1]);
  const sectionsIn = (s: string) => [...s.matchAll(SECTION)].map((m) => [m[1], m[2], m[3]].filter(Boolean).join(' '));

  test('rule and fault IDs are whole words, or the end of a PascalCase name', () => {
    expect(tagsIn("rule: 'M4', (M10, M11), M3–M6, §4.5/F11, F1–F7; type: 'RefundRuleM4'")).toEqual([
      'M4',
      'M10',
      'M11',
      'M3',
      'M6',
      'F11',
      'F1',
      'F7',
      'M4',
    ]);
    expect(tagsIn("outRefundNo: 'R2-F1', 'R-M3', MGF1-SHA-1, 0xF1, '7FFFFFF1', m8, M100, F1x")).toEqual([]);
  });

  test('section numbers stop before a final dot and carry step ranges', () => {
    expect(sectionsIn('see §3.9. Also §8.3 step 9, §8.3 steps 6–11, §5.5/§5.6, § 7')).toEqual([
      '3.9',
      '8.3 9',
      '8.3 6 11',
      '5.5',
      '5.6',
      '7',
    ]);
  });

  test('heading anchors follow GitHub', () => {
    expect(slug('3.9 Errors')).toBe('39-errors');
    expect(slug("11. The payment's own record: query order (facts for the ledger)")).toBe(
      '11-the-payments-own-record-query-order-facts-for-the-ledger',
    );
    expect(slug('5.8 v2 refund notification (`req_info`)')).toBe('58-v2-refund-notification-req_info');
  });
});
