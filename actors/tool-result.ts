/**
 * Converts MCP results to the shape Ensemble keeps. Text is what templates
 * interpolate; `json` is structured content, or the text when it parses.
 */
import type { RawToolResult, ResourceResult, ToolResult } from '../src/core/results.js';

interface McpContent {
  type: string;
  text?: string;
}

/** `raw` is kept whole on the result (a reference, not a copy): resource links, embedded resources, `_meta`. */
export function toToolResult(raw: { content?: unknown; structuredContent?: unknown; isError?: unknown; toolResult?: unknown; [key: string]: unknown }): ToolResult {
  // Servers on the 2024-10-07 protocol answer `{ toolResult }` instead of content.
  const content = Array.isArray(raw.content) ? (raw.content as McpContent[]) : [];
  const text =
    content.length === 1 && content[0]!.type === 'text'
      ? (content[0]!.text ?? '')
      : content.filter((block) => block.type === 'text').map((block) => block.text ?? '').join('\n');
  const result: ToolResult = {
    text: raw.toolResult !== undefined && content.length === 0 ? JSON.stringify(raw.toolResult) : text,
    json: raw.structuredContent !== undefined ? raw.structuredContent : parseJsonText(text),
    isError: raw.isError === true,
    content,
    raw: toRaw(raw, content),
  };
  if (raw.structuredContent !== undefined) result.structuredContent = raw.structuredContent;
  return result;
}

function toRaw(raw: Record<string, unknown>, content: unknown[]): RawToolResult {
  // The SDK's parse fills in `content`; a result from elsewhere (the 2024-10-07 `toolResult`) may lack it.
  return hasContentList(raw) ? raw : { ...raw, content };
}

function hasContentList(raw: Record<string, unknown>): raw is RawToolResult {
  return Array.isArray(raw.content);
}

export function toResourceResult(uri: string, raw: { contents?: unknown }): ResourceResult {
  const contents = Array.isArray(raw.contents) ? (raw.contents as McpContent[]) : [];
  const text = contents.map((item) => item.text ?? '').join('\n');
  return { uri, text, json: parseJsonText(text) };
}

/** JSON.parse only when the text can be JSON; throwing on every plain answer is costly on hot paths. */
export function parseJsonText(text: string): unknown {
  const first = text.trimStart().charCodeAt(0);
  // { [ " - 0-9 t f n
  const maybeJson =
    first === 123 || first === 91 || first === 34 || first === 45 || (first >= 48 && first <= 57) || first === 116 || first === 102 || first === 110;
  if (!maybeJson) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
