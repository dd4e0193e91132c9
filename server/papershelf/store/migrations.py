"""The library's schema, as numbered migrations that Store.migrate applies in order and records in
schema_migrations."""

# Never edit a migration that has shipped: add the next number.
MIGRATIONS: list[tuple[int, str, str]] = [
    (1, "papers, identifiers, embeddings", """
        CREATE TABLE papers (
            id VARCHAR PRIMARY KEY,
            title VARCHAR NOT NULL,
            title_norm VARCHAR NOT NULL,
            abstract VARCHAR NOT NULL DEFAULT '',
            authors VARCHAR[] NOT NULL DEFAULT [],
            year INTEGER,
            venue VARCHAR NOT NULL DEFAULT '',
            url VARCHAR NOT NULL DEFAULT '',
            tags VARCHAR[] NOT NULL DEFAULT [],
            notes VARCHAR NOT NULL DEFAULT '',
            source VARCHAR NOT NULL DEFAULT '',
            content_hash VARCHAR NOT NULL,
            added_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP NOT NULL,
            deleted_at TIMESTAMP
        );
        CREATE INDEX papers_title_norm ON papers(title_norm);
        -- ref is `scheme:value`; one ref belongs to one paper.
        CREATE TABLE identifiers (
            ref VARCHAR PRIMARY KEY,
            paper_id VARCHAR NOT NULL
        );
        CREATE INDEX identifiers_paper ON identifiers(paper_id);
        -- One vector per paper and model; content_hash says which text it is of, so unchanged text
        -- is never embedded again and a changed one is.
        CREATE TABLE embeddings (
            paper_id VARCHAR NOT NULL,
            model_id VARCHAR NOT NULL,
            content_hash VARCHAR NOT NULL,
            vector BLOB NOT NULL,
            embedded_at TIMESTAMP NOT NULL,
            PRIMARY KEY (paper_id, model_id)
        );
    """),
    (2, "settings", """
        CREATE TABLE settings (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
    """),
    (3, "feeds, digest candidates, feedback", """
        -- Where new papers come from, and how the last fetch of each went.
        CREATE TABLE feeds (
            source VARCHAR PRIMARY KEY,
            url VARCHAR NOT NULL,
            added_at TIMESTAMP NOT NULL,
            etag VARCHAR,
            last_modified VARCHAR,
            last_fetch_at TIMESTAMP,
            last_success_at TIMESTAMP,
            last_error VARCHAR,
            last_error_at TIMESTAMP,
            last_count INTEGER
        );
        -- Papers the feeds brought: beside the library, never in it until the user saves one. `day` is the
        -- digest they first appeared in; paper_id is set when the library has (or gets) the same paper.
        CREATE TABLE candidates (
            id VARCHAR PRIMARY KEY,
            title VARCHAR NOT NULL,
            abstract VARCHAR NOT NULL DEFAULT '',
            authors VARCHAR[] NOT NULL DEFAULT [],
            year INTEGER,
            venue VARCHAR NOT NULL DEFAULT '',
            url VARCHAR NOT NULL DEFAULT '',
            identifiers VARCHAR[] NOT NULL DEFAULT [],
            feed VARCHAR NOT NULL,
            announce VARCHAR NOT NULL DEFAULT '',
            day DATE NOT NULL,
            fetched_at TIMESTAMP NOT NULL,
            content_hash VARCHAR NOT NULL,
            model_id VARCHAR,
            vector BLOB,
            paper_id VARCHAR
        );
        CREATE INDEX candidates_day ON candidates(day);
        CREATE TABLE candidate_refs (ref VARCHAR PRIMARY KEY, candidate_id VARCHAR NOT NULL);
        -- Every 👍/👎, kept forever with the text and vector it was given on (candidates are pruned).
        CREATE TABLE feedback (
            candidate_id VARCHAR PRIMARY KEY,
            title VARCHAR NOT NULL,
            abstract VARCHAR NOT NULL DEFAULT '',
            identifiers VARCHAR[] NOT NULL DEFAULT [],
            rating INTEGER NOT NULL,
            rated_at TIMESTAMP NOT NULL,
            model_id VARCHAR,
            vector BLOB
        );
    """),
    (4, "imported files", """
        -- Each file imported, by the sha256 of its bytes: which paper every record went to, and what failed.
        -- The same bytes again, with none of those papers changed since, need no work at all.
        CREATE TABLE imports (
            sha256 VARCHAR PRIMARY KEY,
            format VARCHAR NOT NULL,
            imported_at TIMESTAMP NOT NULL,
            outcome BLOB NOT NULL
        );
    """),
    (5, "duplicate review: merges and decisions", """
        -- Merges the user confirmed, with what undoing one needs: both papers' rows, the merged one's
        -- identifiers and vectors, as they were (JSON).
        CREATE TABLE merges (
            id VARCHAR PRIMARY KEY,
            keep_id VARCHAR NOT NULL,
            gone_id VARCHAR NOT NULL,
            before BLOB NOT NULL,
            merged_at TIMESTAMP NOT NULL,
            undone_at TIMESTAMP
        );
        -- Pairs the user said are two papers ("keep both"): not offered again. a < b.
        CREATE TABLE distinct_pairs (
            a VARCHAR NOT NULL,
            b VARCHAR NOT NULL,
            decided_at TIMESTAMP NOT NULL,
            PRIMARY KEY (a, b)
        );
    """),
    (6, "a paper's files (its PDFs)", """
        -- A file of a paper, by content: the same bytes are the same file wherever they move (path is
        -- where it was last seen). kept: our own copy under <home>/files/, which we may delete with the paper.
        CREATE TABLE files (
            id VARCHAR PRIMARY KEY,
            paper_id VARCHAR NOT NULL,
            path VARCHAR NOT NULL,
            sha256 VARCHAR NOT NULL UNIQUE,
            size BIGINT NOT NULL,
            kept BOOLEAN NOT NULL DEFAULT false,
            added_at TIMESTAMP NOT NULL
        );
        CREATE INDEX files_paper ON files (paper_id);
    """),
    (7, "followed sources and what each gave", """
        -- A library papershelf follows (Zotero, a file another tool rewrites, a folder): where it is, its
        -- options (JSON), how the last sync went, and a sync held back for the user to confirm (JSON).
        CREATE TABLE sources (
            id VARCHAR PRIMARY KEY,
            kind VARCHAR NOT NULL,
            location VARCHAR NOT NULL UNIQUE,
            options VARCHAR NOT NULL DEFAULT '{}',
            added_at TIMESTAMP NOT NULL,
            last_sync_at TIMESTAMP,
            last_success_at TIMESTAMP,
            last_error VARCHAR,
            last_report VARCHAR,
            held VARCHAR,
            state BLOB
        );
        -- Each record a source yields, by the source's own key: the paper it is, the stamp that says whether it
        -- changed, whether this source brought the paper in (created), and what it gave the paper (tags, notes,
        -- files' hashes), so that a later edit or removal in the source takes back exactly that.
        CREATE TABLE source_items (
            source_id VARCHAR NOT NULL,
            key VARCHAR NOT NULL,
            paper_id VARCHAR NOT NULL,
            stamp VARCHAR NOT NULL,
            created BOOLEAN NOT NULL,
            tags VARCHAR[] NOT NULL DEFAULT [],
            notes VARCHAR NOT NULL DEFAULT '',
            files VARCHAR[] NOT NULL DEFAULT [],
            PRIMARY KEY (source_id, key)
        );
    """),
    (8, "files that could not be read", """
        -- A file whose reading failed (its reader crashed, ran out of memory or time, or it is no readable PDF),
        -- by the sha256 of its bytes: not read again by a sync or at a start until the user asks (retry).
        CREATE TABLE unreadable_files (
            sha256 VARCHAR PRIMARY KEY,
            name VARCHAR NOT NULL,
            reason VARCHAR NOT NULL,
            failed_at TIMESTAMP NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 1
        );
    """),
    (9, "the full text of files: passages, their vectors, reference lists", """
        -- What reading every page of a file gave, by the sha256 of its bytes (a changed file is new bytes, read
        -- again; a file no paper has any more takes its rows with it). reader: the version of the reading that
        -- wrote them (pdf/pages.py), so a better reader reads the files again. scanned: pages with no text layer;
        -- ocr: whether OCR has read them since.
        CREATE TABLE file_texts (
            sha256 VARCHAR PRIMARY KEY,
            reader INTEGER NOT NULL,
            pages INTEGER NOT NULL,
            scanned INTEGER[] NOT NULL DEFAULT [],
            ocr VARCHAR NOT NULL DEFAULT '',
            note VARCHAR NOT NULL DEFAULT '',
            read_at TIMESTAMP NOT NULL
        );
        CREATE SEQUENCE passage_ids START 1;
        -- A passage: a few sentences of a file, on the 1-based page where it starts, under its section heading.
        CREATE TABLE passages (
            id BIGINT PRIMARY KEY DEFAULT nextval('passage_ids'),
            sha256 VARCHAR NOT NULL,
            page INTEGER NOT NULL,
            section VARCHAR NOT NULL DEFAULT '',
            text VARCHAR NOT NULL,
            -- where the text goes on to another page: offset, page, offset, page...
            breaks INTEGER[] NOT NULL DEFAULT []
        );
        CREATE INDEX passages_file ON passages (sha256);
        -- One vector per passage and model (a passage's text never changes: a changed file gives new passages).
        CREATE TABLE passage_vectors (
            passage_id BIGINT NOT NULL,
            model_id VARCHAR NOT NULL,
            vector BLOB NOT NULL,
            PRIMARY KEY (passage_id, model_id)
        );
        -- A file's reference list, an entry each, in order, with the page it starts on (linked by a later feature).
        CREATE TABLE file_references (
            sha256 VARCHAR NOT NULL,
            seq INTEGER NOT NULL,
            page INTEGER NOT NULL,
            text VARCHAR NOT NULL,
            PRIMARY KEY (sha256, seq)
        );
    """),
    (10, "what the user edited; entry types; cached registry answers", """
        -- DuckDB alters no table an index depends on: the title index is dropped and made again.
        DROP INDEX papers_title_norm;
        -- entry_type: BibTeX's name for what the paper is (article, inproceedings, phdthesis...; '' unknown).
        ALTER TABLE papers ADD COLUMN entry_type VARCHAR NOT NULL DEFAULT '';
        -- The fields the user edited: theirs, never overwritten by an import, a sync, a PDF read or a registry.
        ALTER TABLE papers ADD COLUMN edited VARCHAR[] NOT NULL DEFAULT [];
        -- Identifiers the user took away: an import that brings one again does not attach it.
        ALTER TABLE papers ADD COLUMN dropped_ids VARCHAR[] NOT NULL DEFAULT [];
        CREATE INDEX papers_title_norm ON papers(title_norm);
        -- What a registry (Crossref, DataCite, arXiv) answered for an identifier, when the user turned
        -- completion on: kept so a paper is asked about once. record: a Record as JSON ('' when not found).
        CREATE TABLE registry_answers (
            ref VARCHAR PRIMARY KEY,
            registry VARCHAR NOT NULL,
            record VARCHAR NOT NULL,
            asked_at TIMESTAMP NOT NULL
        );
    """),
    (11, "citation keys", """
        -- A paper's citation key (is_primary) and its aliases: the key it had before the user set one, the keys
        -- of papers merged into it. Given once (store/keys.py); a key names one paper.
        CREATE TABLE citation_keys (
            key VARCHAR PRIMARY KEY,
            paper_id VARCHAR NOT NULL,
            is_primary BOOLEAN NOT NULL,
            given_at TIMESTAMP NOT NULL
        );
    """),
]
