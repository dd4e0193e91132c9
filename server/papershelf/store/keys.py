"""The papers' citation keys, owned here (`citation_keys`): the key a `\\cite{}` uses, given once when a paper
arrives and kept when its title or year is corrected, so a LaTeX document's citations keep working.

- A paper imported with a key (a BibTeX entry's, a JSONL id: its `key:` identifier) keeps it, unless another
  paper has it; otherwise it gets a readable default, the first author's surname, the year and the first word
  of the title that says something (`vaswani2017attention`), with a letter added on a clash (`…attentiona`).
- A key the user sets wins (`primary`); the one it replaces stays as an alias, and so does the key of a paper
  merged into another: an old `\\cite{}` or `papershelf show KEY` still finds the paper.
- A key is unique across every paper's keys and aliases."""

from __future__ import annotations

from ..ids import citation_key_base, valid_citation_key
from . import now, transaction  # (the package imports this module once it is defined)

CITATION_KEYS_MIGRATION = 11  # store/migrations.py: the one that makes the table
SUFFIXES = 27  # a base and its 26 letters, looked up at once; beyond them, numbers
def _suffixed(base: str, n: int) -> str:
    """The n-th key on a base: base, basea, baseb … basez, then base27, base28 …"""
    return base if n == 0 else f"{base}{chr(ord('a') + n - 1)}" if n <= 26 else f"{base}{n}"


class CitationKeys:
    """The citation keys of one Store."""

    def __init__(self, store):
        self.store = store

    def _cur(self):
        return self.store._cur()

    def give(self, c, papers: list[tuple[str, list[str], int | None, str, list[str]]]) -> None:
        """Keys for new papers, (id, authors, year, title, their `key:` values) each, in the caller's transaction."""
        if not papers:
            return
        new = [pid for pid, *_ in papers]
        bases = {pid: citation_key_base(a, y, t) for pid, a, y, t, _ in papers}
        wanted = list({k for *_, keys in papers for k in keys} | {_suffixed(b, n) for b in bases.values()
                                                                     for n in range(SUFFIXES)})
        taken = {r[0] for r in c.execute("SELECT key FROM citation_keys WHERE key IN (SELECT unnest(?))",
                                         [wanted]).fetchall()}
        taken |= {r[0][4:] for r in c.execute(  # another paper's key it was imported with
            "SELECT ref FROM identifiers WHERE ref IN (SELECT unnest(?)) AND paper_id NOT IN (SELECT unnest(?))",
            [[f"key:{k}" for k in wanted], new]).fetchall()}
        rows, t, strays = [], now(), []
        for pid, _, _, _, keys in papers:
            # A key it came with that another paper has is not its name here: kept, it would make a re-import
            # of that other paper match this one.
            strays += [(f"key:{k}", pid) for k in dict.fromkeys(keys) if k in taken]
            own = [k for k in dict.fromkeys(keys) if valid_citation_key(k) and k not in taken]
            n = 0
            while not own and _suffixed(bases[pid], n) in taken:
                n += 1
            if not own and n >= SUFFIXES and (clash := self._free_after(c, bases[pid], taken)):
                n = clash
            for i, key in enumerate(own or [_suffixed(bases[pid], n)]):
                taken.add(key)
                rows.append((key, pid, i == 0, t))
        c.execute("INSERT INTO citation_keys SELECT unnest(?), unnest(?), unnest(?), unnest(?)",
                  [list(col) for col in zip(*rows)])
        if strays:
            c.execute("DELETE FROM identifiers WHERE (ref, paper_id) IN (SELECT unnest(?), unnest(?))",
                      [list(col) for col in zip(*strays)])

    def _free_after(self, c, base: str, taken: set[str]) -> int:
        """More clashes on a base than letters: the first free numbered suffix."""
        used = {r[0] for r in c.execute("SELECT key FROM citation_keys WHERE starts_with(key, ?)", [base]).fetchall()}
        n = SUFFIXES
        while _suffixed(base, n) in used or _suffixed(base, n) in taken:
            n += 1
        return n

    def give_missing(self) -> int:
        """Keys for every paper without one (a library from before keys were kept), oldest first; how many. Run
        when the table is made: every paper added since gets its key as it arrives."""
        c = self._cur()
        missing = c.execute(
            "SELECT p.id, p.authors, p.year, p.title, list(i.ref ORDER BY i.ref) FILTER (WHERE i.ref LIKE 'key:%') "
            "FROM papers p LEFT JOIN identifiers i ON i.paper_id = p.id "
            "WHERE NOT EXISTS (SELECT 1 FROM citation_keys k WHERE k.paper_id = p.id AND k.is_primary) "
            "GROUP BY p.id, p.authors, p.year, p.title, p.added_at ORDER BY p.added_at, p.id").fetchall()
        with self.store._write_lock, transaction(c):
            for start in range(0, len(missing), 1000):
                self.give(c, [(pid, list(a), y, t, [r[4:] for r in refs or []])
                              for pid, a, y, t, refs in missing[start:start + 1000]])
        return len(missing)

    def of(self, pids: list[str] | None = None) -> dict[str, str]:
        """Each paper's key (the primary one), by library id: of these papers, or of all."""
        if pids is None:
            return dict(self._cur().execute("SELECT paper_id, key FROM citation_keys WHERE is_primary").fetchall())
        return dict(self._cur().execute("SELECT paper_id, key FROM citation_keys WHERE is_primary AND paper_id IN "
                                        "(SELECT unnest(?))", [pids]).fetchall())

    def aliases(self, pid: str) -> list[str]:
        """A paper's other keys: the one it had before the user's, those of papers merged into it."""
        return [r[0] for r in self._cur().execute("SELECT key FROM citation_keys WHERE paper_id = ? AND NOT is_primary "
                                                  "ORDER BY given_at, key", [pid]).fetchall()]

    def owner(self, key: str) -> str | None:
        """The paper a key or an alias names."""
        row = self._cur().execute("SELECT paper_id FROM citation_keys WHERE key = ?", [key]).fetchone()
        return row[0] if row else None

    def set(self, pid: str, key: str) -> None:
        """The user's key for a paper: it becomes the paper's key, and the one before an alias. ValueError if it
        is not a key LaTeX accepts or another paper has it."""
        if not valid_citation_key(key):
            raise ValueError(f"{key!r} is not a citation key LaTeX accepts: letters, digits and _:.+/- only, "
                             "starting with a letter or digit, at most 100 characters")
        c = self._cur()
        with self.store._write_lock:
            other = self.owner(key) or (c.execute("SELECT paper_id FROM identifiers WHERE ref = ?",
                                                  [f"key:{key}"]).fetchone() or [None])[0]
            if other is not None and other != pid:
                raise ValueError(f"another paper ({other}) has the key {key!r}")
            with transaction(c):
                c.execute("UPDATE citation_keys SET is_primary = false WHERE paper_id = ?", [pid])
                c.execute("INSERT INTO citation_keys VALUES (?, ?, true, ?) ON CONFLICT (key) DO UPDATE SET "
                          "is_primary = true", [key, pid, now()])

    def fold(self, c, other: str, into: str) -> None:
        """A paper merged into another: its keys stay, as aliases of the one it went into."""
        c.execute("UPDATE citation_keys SET paper_id = ?, is_primary = false WHERE paper_id = ?", [into, other])
