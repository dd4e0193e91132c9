"""The shapes that flow through papershelf: importers yield Records, the store keeps Papers, lookups return Hits.

Identifiers are always strings of the form `scheme:value` (see ids.py), so any one shown can be passed back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec


class FieldWarning(msgspec.Struct):
    """A field of a record that could not be read: dropped, the paper kept."""

    field: str
    value: str
    reason: str


class FileRef(msgspec.Struct, omit_defaults=True):
    """A file a record comes with (a paper's PDF): where it is, and its content's hash, which finds it again."""

    path: str
    sha256: str
    size: int = 0
    kept: bool = False  # our own copy, under <home>/files/


class Record(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=False):
    """A paper as a source describes it, before it meets the library (`warnings`: fields the reader dropped)."""

    title: str
    abstract: str = ""
    authors: list[str] = []
    year: int | None = None
    venue: str = ""
    url: str = ""
    tags: list[str] = []
    identifiers: list[str] = []
    source: str = ""
    warnings: list[FieldWarning] = []
    files: list[FileRef] = []
    guessed: bool = False  # read from a layout (a PDF): fills what a paper lacks, never replaces what it has
    entry_type: str = ""  # BibTeX's name for it (article, inproceedings, phdthesis, ...), when the source says


class PaperFile(msgspec.Struct):
    """A file of a paper: `missing` when it is no longer where it was (the paper stays; importing the folder it
    moved to finds it again by its hash). `kept`: papershelf's own copy, under `<home>/files/`."""

    id: str
    path: str
    sha256: str
    size: int
    added_at: datetime
    kept: bool = False
    missing: bool = False
    pages: int | None = None  # read into passages (None: not read yet)
    passages: int = 0
    text_note: str = ""  # what reading its pages left unsaid ("3 pages cannot be searched: a scan ...")


class Paper(msgspec.Struct):
    """A paper in the library."""

    id: str
    title: str
    abstract: str
    authors: list[str]
    year: int | None
    venue: str
    url: str
    tags: list[str]
    notes: str
    source: str
    identifiers: list[str]
    added_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None
    embedded: bool = False
    files: list[PaperFile] = []
    entry_type: str = ""  # BibTeX's name for what it is ('' when no source said: exported as article or misc)
    edited: list[str] = []  # the fields the user edited: theirs, never overwritten by a source
    mirrors: list[str] = []  # the kinds of followed sources that hold it ("zotero"): edited there, not here


class CitationKey(msgspec.Struct):
    """A paper's citation key (what `\\cite{}` uses, given once and kept) and its aliases (its key before the
    user set this one, the keys of papers merged into it: they still find it)."""

    id: str
    key: str
    aliases: list[str] = []


class PaperBrief(msgspec.Struct):
    """What a result list shows of a paper."""

    id: str
    title: str
    authors: list[str]
    year: int | None
    venue: str
    url: str
    tags: list[str]
    identifiers: list[str]


class PassageHit(msgspec.Struct):
    """A passage of a paper's PDF that answers a query: where it stands (`file` is the PDF's path on disk, `page`
    1-based), its text with the matched words' [start, end) offsets, and which signals found it ("words",
    "meaning"). `file_id` serves the file (/api/files/{file_id}); `section`: the heading it stands under."""

    paper_id: str
    title: str
    file: str
    page: int
    text: str
    highlights: list[tuple[int, int]]
    score: float
    matched: list[str]
    file_id: str = ""
    section: str = ""


class PassageRow(msgspec.Struct, array_like=True):
    """A passage as the store has it, with its paper and file (store/passages.py)."""

    id: int
    sha256: str
    page: int
    section: str
    text: str
    paper_id: str
    title: str
    file_id: str
    path: str
    breaks: list[int] = []  # where the text goes on to another page: offset, page, ...


class TextState(msgspec.Struct):
    """The full text of the library's files: what has been read and what waits."""

    files_read: int = 0
    pages_read: int = 0
    passages: int = 0
    passages_waiting: int = 0  # for a vector (searchable by words already)
    files_waiting: int = 0  # to be read
    unsearchable_pages: int = 0  # scans OCR has not read (tesseract-ocr missing, or it failed)


class RelatedHit(msgspec.Struct):
    """One related paper: who, how close (0..1), the terms the two texts share, and whether it is only loosely
    related (far below the best match, or not close in meaning at all)."""

    id: str
    title: str
    score: float
    identifiers: list[str]
    why: list[str]
    paper: PaperBrief
    loose: bool = False
    passage: PassageHit | None = None  # in its PDF, the passage closest to the paper it is related to


class SearchHit(msgspec.Struct):
    """One search result and which signals found it ("keyword", "semantic")."""

    id: str
    title: str
    score: float
    identifiers: list[str]
    why: list[str]
    matched: list[str]
    paper: PaperBrief
    passage: PassageHit | None = None  # found by words in its PDF's body only: the passage that has them


class ImportFailure(msgspec.Struct):
    """A record that could not be imported, where it was, and why."""

    position: str
    reason: str


class UnreadableFile(msgspec.Struct):
    """A file whose reading failed, by its bytes: not read again by a sync or a start until the user asks."""

    sha256: str
    name: str  # where it was when it failed (a path, or the name it came with)
    reason: str
    failed_at: datetime
    attempts: int = 1


class ImportMerge(msgspec.Struct):
    """A record that matched a paper already in the library."""

    position: str
    id: str
    changed: bool


class ImportWarning(msgspec.Struct):
    """A field of an imported record that was dropped; the paper (`id`) is in the library without it."""

    position: str
    id: str
    field: str
    value: str
    reason: str


class ImportReport(msgspec.Struct):
    """What one import did: papers added, records merged into existing papers, records that failed, and fields
    that were dropped from papers that were kept (warnings)."""

    source: str = ""
    format: str = ""
    added: list[str] = []
    merged: list[ImportMerge] = []
    failed: list[ImportFailure] = []
    warnings: list[ImportWarning] = []
    error: str = ""
    # Set when the same bytes were imported before (at this time, RFC 3339) and none of the papers they went
    # to changed since: nothing was done, and the report is that import's, every record merged unchanged.
    unchanged_since: str = ""

    def extend(self, other: "ImportReport") -> None:
        """Fold another report (of one more file) into this one."""
        self.added += other.added
        self.merged += other.merged
        self.failed += other.failed
        self.warnings += other.warnings
        if other.error:
            self.failed.append(ImportFailure(position=other.source or "input", reason=other.error))

    def summary(self) -> str:
        """One line for people."""
        unchanged = sum(1 for m in self.merged if not m.changed)
        s = f"added {len(self.added)}, merged {len(self.merged)}"
        if unchanged:
            s += f" ({unchanged} already in the library unchanged)"
        s += f", failed {len(self.failed)}"
        return s + (f", {len(self.warnings)} fields dropped (warnings)" if self.warnings else "")


class Stats(msgspec.Struct):
    """The library at a glance."""

    papers: int
    embedded: int
    pending: int
    trashed: int
    model_id: str
    db_bytes: int
    home: str
    candidates: int = 0  # the digest's papers waiting beside the library
    feeds: int = 0
    feeds_failing: int = 0  # feeds whose last fetch failed (`papershelf feeds list` says why)
    sources: int = 0  # followed sources (papershelf sources)
    sources_failing: int = 0  # whose last sync failed
    sources_held: int = 0  # whose sync waits for the user to confirm its removals
    text: TextState = msgspec.field(default_factory=TextState)  # the full text of the PDFs


class Filters(msgspec.Struct, omit_defaults=True):
    """Restrictions on related/search results."""

    year_min: int | None = None
    year_max: int | None = None
    tags: list[str] = []
    exclude: list[str] = []


class PaperQuery(msgspec.Struct, omit_defaults=True):
    """Which papers a list or its facet counts are about: all of these must hold."""

    text: str = ""  # in the title or the authors
    tags: list[str] = []  # every one of them
    year_min: int | None = None
    year_max: int | None = None
    venue: str = ""
    source: str = ""  # how the paper came in: a file's format, "api", "extension"…
    no_abstract: bool = False
    not_embedded: bool = False  # no vector yet for the current model
    trashed: bool = False
    pdf: bool | None = None  # True: has a file; False: has none


class Count(msgspec.Struct):
    value: str
    count: int


class Facets(msgspec.Struct):
    """How the papers a query finds spread over tags, years, venues and sources, with their counts."""

    total: int
    tags: list[Count]
    years: list[Count]
    venues: list[Count]
    sources: list[Count]
    no_abstract: int
    not_embedded: int
    with_pdf: int = 0
    without_pdf: int = 0


Format = Literal["jsonl", "json", "bibtex", "listing", "ris", "wos", "csljson", "arxiv", "openalex", "s2", "hf"]


class FeedInfo(msgspec.Struct):
    """A feed and how its fetches went (offline is normal: the last error is shown, not shouted)."""

    source: str
    url: str
    added_at: datetime
    last_fetch_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    last_count: int | None = None


class FeedReport(msgspec.Struct):
    """One feed's part of a fetch: new candidates, ones seen before, ones already in the library, or the error."""

    source: str
    new: int = 0
    seen: int = 0
    in_library: int = 0
    not_modified: bool = False
    error: str = ""


class ClosePaper(msgspec.Struct):
    """A library paper a digest item is close to."""

    id: str
    title: str
    score: float


class DigestWhy(msgspec.Struct):
    """Why an item is in the digest: the library papers it is closest to and the terms it shares with them."""

    papers: list[ClosePaper]
    terms: list[str]


class DigestItem(msgspec.Struct):
    """One new paper of a day's digest, ranked for this researcher."""

    id: str
    title: str
    authors: list[str]
    year: int | None
    url: str
    identifiers: list[str]
    feed: str
    announce: str
    abstract: str
    score: float
    why: DigestWhy
    in_library: bool
    library_id: str | None
    feedback: Literal["up", "down"] | None


class Digest(msgspec.Struct):
    """A day's digest: its items best first, how they were ranked, and the days that have one."""

    day: str | None
    method: str
    note: str
    items: list[DigestItem]
    total: int
    pending: int
    days: list[str]


class FeedbackRow(msgspec.Struct):
    """A 👍 or 👎, kept forever (the export of what the user rated)."""

    candidate_id: str
    title: str
    identifiers: list[str]
    rating: Literal["up", "down"]
    rated_at: datetime


class DigestSettings(msgspec.Struct, forbid_unknown_fields=True):
    """When the server fetches the digest (local time, HH:MM) and after how many days unsaved candidates go."""

    at: str = "07:00"
    prune_days: int = 30


class SourceItem(msgspec.Struct, omit_defaults=True):
    """One record of a followed source, by the source's own key (Zotero's library and item key, a citekey, a
    PDF's hash). `stamp` changes whenever the record does; `record` is None when the stamp says it did not
    (nothing was read). `notes`: the source's notes on it, as text."""

    key: str
    stamp: str
    record: Record | None = None
    notes: str = ""


class SyncReport(msgspec.Struct):
    """What one sync of a source did. `held`: it would remove so much that it waits for the user's confirmation
    and did nothing; `error`: it could not read the source and did nothing."""

    source: str
    added: int = 0  # new papers
    merged: int = 0  # records that met a paper already in the library (from the user or another source)
    updated: int = 0  # papers an edit in the source changed
    unchanged: int = 0
    removed: int = 0  # records gone from the source
    trashed: int = 0  # papers that went to the trash with them (nothing else held them)
    failed: list[ImportFailure] = []
    held: str = ""
    error: str = ""
    seconds: float = 0.0
    at: datetime | None = None


SourceKind = Literal["zotero", "file", "folder"]


class SourceInfo(msgspec.Struct):
    """A followed source: where it is, its options, how many papers it holds, and how its last sync went."""

    id: str
    kind: SourceKind
    location: str
    options: dict[str, bool | str]
    added_at: datetime
    papers: int = 0
    last_sync_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_report: SyncReport | None = None
    held: str | None = None  # a sync waiting for `sources sync --confirm`, and why
