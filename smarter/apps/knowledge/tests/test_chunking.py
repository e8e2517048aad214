"""Chunking sections in tokens of the local model's tokenizer: sizes, overlaps, positions,
parents and children, and chunks that never run across two sections."""

from __future__ import annotations

import itertools

import pytest

from smarter.apps.knowledge.chunking import chunk_sections, token_counter
from smarter.apps.knowledge.records import ChunkDraft, Section

count_tokens = token_counter()

LONG = " ".join(
    f"Step {number}: check that the centrifugal pump keeps a steady pressure of {number % 7 + 1} bar."
    for number in range(120)
)
MANUAL = [
    Section(text="Read this first.", page=1),
    Section(text=LONG, page=2, heading_path=("Pump manual", "Maintenance")),
    Section(text="Two years of warranty.\n\nKeep the receipt.", page=5, heading_path=("Warranty",)),
]


def test_the_counter_counts_the_models_word_pieces_without_its_markers() -> None:
    assert count_tokens("") == 0
    assert count_tokens("the pump") == 2
    assert count_tokens("centrifugal") == 4  # cent ##ri ##fu ##gal: the tokenizer's own cut
    assert count_tokens("word " * 1000) == 1000  # no 128-token truncation from the model's file
    assert token_counter() is count_tokens


@pytest.mark.parametrize("strategy", ["recursive", "markdown", "parent_child"])
@pytest.mark.parametrize(("size", "overlap"), [(16, 0), (32, 8), (100, 20)])
def test_no_chunk_exceeds_the_size_in_tokens(strategy: str, size: int, overlap: int) -> None:
    chunks = chunk_sections(MANUAL, strategy=strategy, size=size, overlap=overlap, count_tokens=count_tokens)
    assert all(count_tokens(chunk.text) == chunk.tokens <= size for chunk in chunks)
    assert [chunk.position for chunk in chunks] == list(range(len(chunks)))


def test_a_word_longer_than_the_size_is_cut_within_the_size() -> None:
    sections = [Section(text="x" * 400 + " " + "Pneumonoultramicroscopicsilicovolcanoconiosis " * 30)]
    chunks = chunk_sections(sections, strategy="recursive", size=16, overlap=4, count_tokens=count_tokens)
    assert chunks and all(count_tokens(chunk.text) <= 16 for chunk in chunks)


def test_recursive_chunks_keep_their_sections_page_and_heading_path() -> None:
    chunks = chunk_sections(MANUAL, strategy="recursive", size=64, overlap=0, count_tokens=count_tokens)
    assert chunks[0] == ChunkDraft(
        position=0, text="Read this first.", parent_text="Read this first.", parent_position=0, tokens=4, page=1
    )
    middle = chunks[1:-1]
    assert len(middle) > 10
    assert {(chunk.page, chunk.heading_path) for chunk in middle} == {(2, ("Pump manual", "Maintenance"))}
    assert " ".join(chunk.text for chunk in middle) == LONG  # nothing lost, nothing repeated
    assert chunks[-1] == ChunkDraft(
        position=len(chunks) - 1,
        text="Two years of warranty.\n\nKeep the receipt.",
        parent_text="Two years of warranty.\n\nKeep the receipt.",
        parent_position=len(chunks) - 1,
        tokens=10,  # two years of warrant ##y . keep the receipt .
        heading_path=("Warranty",),
        page=5,
    )
    assert all(chunk.parent_text == chunk.text and chunk.parent_position == chunk.position for chunk in chunks)


def test_neighbouring_chunks_of_a_section_overlap_by_at_most_the_overlap() -> None:
    chunks = chunk_sections([Section(text=LONG)], strategy="recursive", size=48, overlap=16, count_tokens=count_tokens)
    assert len(chunks) > 10
    for before, after in itertools.pairwise(chunks):
        words_before, words_after = before.text.split(), after.text.split()
        shared = max(n for n in range(len(words_after)) if words_before[len(words_before) - n :] == words_after[:n])
        assert shared > 0, (before.text, after.text)
        assert count_tokens(" ".join(words_after[:shared])) <= 16


def test_without_overlap_nothing_repeats() -> None:
    chunks = chunk_sections([Section(text=LONG)], strategy="recursive", size=48, overlap=0, count_tokens=count_tokens)
    assert " ".join(chunk.text for chunk in chunks) == LONG


def test_markdown_chunks_follow_headings_inside_a_section_and_never_cross_sections() -> None:
    sections = [
        Section(text="# Setup\nPlug it in.\n## Cables\nUse the blue one.", page=3, heading_path=("Guide",)),
        Section(text="Intro of the next section, short.", page=4, heading_path=("Next",)),
    ]
    chunks = chunk_sections(sections, strategy="markdown", size=64, overlap=8, count_tokens=count_tokens)
    assert [(chunk.text, chunk.heading_path, chunk.page) for chunk in chunks] == [
        ("Plug it in.", ("Guide", "Setup"), 3),
        ("Use the blue one.", ("Guide", "Setup", "Cables"), 3),
        ("Intro of the next section, short.", ("Next",), 4),
    ]


def test_markdown_chunks_of_long_sections_stay_in_their_section() -> None:
    sections = [Section(text=LONG, heading_path=("A",)), Section(text=LONG.upper(), heading_path=("B",))]
    chunks = chunk_sections(sections, strategy="markdown", size=40, overlap=10, count_tokens=count_tokens)
    for chunk in chunks:
        assert chunk.text in (LONG if chunk.heading_path == ("A",) else LONG.upper())


def test_parent_child_children_are_cut_inside_parents_of_four_times_the_size() -> None:
    chunks = chunk_sections(MANUAL, strategy="parent_child", size=32, overlap=8, count_tokens=count_tokens)
    parents: dict[int, str] = {}
    for chunk in chunks:
        assert parents.setdefault(chunk.parent_position, chunk.parent_text) == chunk.parent_text
        assert chunk.text in chunk.parent_text
        assert chunk.tokens <= 32
    assert sorted(parents) == list(range(len(parents)))
    assert all(count_tokens(text) <= 128 for text in parents.values())
    assert parents[0] == "Read this first."
    long_parents = [text for position, text in parents.items() if 0 < position < len(parents) - 1]
    assert len(long_parents) > 1
    assert " ".join(long_parents) == LONG  # parents do not overlap each other
    assert parents[len(parents) - 1] == "Two years of warranty.\n\nKeep the receipt."
    assert [chunk.position for chunk in chunks] == list(range(len(chunks)))
    # Children come in document order: their parents' numbers never go back.
    assert [chunk.parent_position for chunk in chunks] == sorted(chunk.parent_position for chunk in chunks)
    assert chunks[-1].heading_path == ("Warranty",) and chunks[-1].page == 5


@pytest.mark.parametrize(
    ("strategy", "size", "overlap", "message"),
    [
        ("semantic", 64, 0, "the chunking strategy must be one of recursive, markdown, parent_child, not “semantic”"),
        ("recursive", 15, 0, "the chunk size must be between 16 and 2048 tokens, not 15"),
        ("recursive", 2049, 0, "the chunk size must be between 16 and 2048 tokens, not 2049"),
        ("recursive", 64, 64, "the chunk overlap must be at least 0 and less than the chunk size (64), not 64"),
        ("markdown", 64, -1, "the chunk overlap must be at least 0 and less than the chunk size (64), not -1"),
    ],
)
def test_invalid_chunking_settings_are_refused(strategy: str, size: int, overlap: int, message: str) -> None:
    with pytest.raises(ValueError) as refused:
        chunk_sections(MANUAL, strategy=strategy, size=size, overlap=overlap, count_tokens=count_tokens)
    assert str(refused.value) == message


def test_no_sections_make_no_chunks() -> None:
    assert chunk_sections([], strategy="parent_child", size=64, overlap=0, count_tokens=count_tokens) == []


def test_a_counter_that_is_not_additive_still_never_yields_an_oversize_chunk() -> None:
    # Joined text counts more than its parts here, so the splitter's sums fall short of the truth.
    def superadditive(text: str) -> int:
        return len(text) ** 2 // 200

    chunks = chunk_sections([Section(text=LONG)], strategy="recursive", size=50, overlap=0, count_tokens=superadditive)
    assert chunks and all(superadditive(chunk.text) <= 50 for chunk in chunks)
    assert " ".join(chunk.text for chunk in chunks) == LONG
