/**
 * v2 XML (reference §5.1): one flat root element (`<xml>`, or `<root>` inside req_info), one child per parameter.
 *
 * Security: the parser never expands entities and any DOCTYPE is refused before parsing, so XXE and
 * entity-expansion ("billion laughs") payloads cannot do anything. Only the five predefined XML entities and numeric
 * character references in plain text are decoded, by hand.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';

export class MalformedXml extends Error {
  override readonly name = 'MalformedXml';
}

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

function cdata(value: string): string {
  // "]]>" cannot appear inside one CDATA section; split it across two.
  return `<![CDATA[${value.split(']]>').join(']]]]><![CDATA[>')}]]>`;
}

/** `<xml>` with CDATA for strings, bare text for numbers; undefined fields are left out. */
export function buildV2Xml(fields: Record<string, string | number | undefined>, root = 'xml'): string {
  const parts: string[] = [`<${root}>`];
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    if (!NAME.test(name)) throw new TypeError(`invalid XML element name ${JSON.stringify(name)}`);
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) throw new TypeError(`${name} must be a finite number`);
      parts.push(`<${name}>${value}</${name}>`);
    } else {
      parts.push(`<${name}>${cdata(String(value))}</${name}>`);
    }
  }
  parts.push(`</${root}>`);
  return parts.join('');
}

const parser = new XMLParser({
  processEntities: false,
  htmlEntities: false,
  ignoreAttributes: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  cdataPropName: '__cdata',
  commentPropName: false,
});

const PREDEFINED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeText(text: string): string {
  return text.replace(/&(#x[0-9A-Fa-f]+|#[0-9]+|[A-Za-z]+);/g, (whole, ref: string) => {
    if (ref.startsWith('#x')) return String.fromCodePoint(parseInt(ref.slice(2), 16));
    if (ref.startsWith('#')) return String.fromCodePoint(parseInt(ref.slice(1), 10));
    const ch = PREDEFINED[ref];
    if (ch === undefined) throw new MalformedXml(`undeclared entity ${whole}`);
    return ch;
  });
}

function isBlank(v: unknown): boolean {
  return typeof v === 'string' && v.trim() === '';
}

function leafValue(name: string, node: unknown): string {
  if (typeof node === 'string') return decodeText(node);
  if (Array.isArray(node)) throw new MalformedXml(`element <${name}> appears more than once`);
  if (node && typeof node === 'object') {
    const entries = Object.entries(node as Record<string, unknown>);
    let out = '';
    for (const [k, v] of entries) {
      if (k === '__cdata') out += Array.isArray(v) ? v.join('') : String(v);
      else if (k === '#text' && isBlank(v)) continue;
      else if (k === '#text') throw new MalformedXml(`element <${name}> mixes text and CDATA`);
      else throw new MalformedXml(`element <${name}> has nested elements; v2 XML is flat`);
    }
    return out;
  }
  return '';
}

/** Parse a flat v2 XML document into `{ name: text }`. Throws MalformedXml on anything else. */
export function parseV2Xml(xml: string | Buffer): Record<string, string> {
  try {
    return parseFlatXml(xml);
  } catch (e) {
    // The XML library and String.fromCodePoint have their own errors for hostile input (`&#x110000;`, an element
    // named __proto__, thousands of nested levels); callers are promised one error type.
    if (e instanceof MalformedXml) throw e;
    throw new MalformedXml(`invalid XML: ${(e as Error).message}`, { cause: e });
  }
}

function parseFlatXml(xml: string | Buffer): Record<string, string> {
  const text = typeof xml === 'string' ? xml : xml.toString('utf8');
  if (/<!DOCTYPE/i.test(text) || /<!ENTITY/i.test(text)) throw new MalformedXml('DOCTYPE/ENTITY is not allowed');
  const valid = XMLValidator.validate(text);
  if (valid !== true) throw new MalformedXml(`invalid XML: ${valid.err.msg}`);
  const doc = parser.parse(text) as Record<string, unknown>;
  const roots = Object.entries(doc).filter(([k, v]) => !(k === '#text' && isBlank(v)));
  if (roots.length !== 1) throw new MalformedXml('expected exactly one root element');
  const [rootName, rootNode] = roots[0];
  if (rootNode === '' || rootNode === undefined) return {};
  if (typeof rootNode !== 'object' || rootNode === null || Array.isArray(rootNode)) {
    throw new MalformedXml(`root <${rootName}> has no child elements`);
  }
  const out: Record<string, string> = {};
  for (const [name, node] of Object.entries(rootNode as Record<string, unknown>)) {
    if (name === '#text') {
      if (isBlank(node)) continue;
      throw new MalformedXml(`root <${rootName}> contains bare text`);
    }
    if (name === '__cdata') throw new MalformedXml(`root <${rootName}> contains bare CDATA`);
    out[name] = leafValue(name, node);
  }
  return out;
}
