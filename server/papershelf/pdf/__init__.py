"""The PDF wing: a paper's PDF read into a Record, in limited worker processes, and the copies papershelf keeps.

- `text.py`: the text layer of the first pages, as lines with size, place and font (PDFium).
- `meta.py`: identifiers, title, authors, year, venue and abstract from that layout.
- `record.py`: one PDF → one Record, or the reason it gives none (what a worker runs).
- `sandbox.py`: worker processes with a memory and a time limit per task (knows nothing of papershelf).
- `readers.py`: the readers' pool: files read in the sandbox, failures remembered by their bytes.
- `files.py`: hashes, and the copies under `<home>/files/`.
- `intake.py`: the way in: PDFs where they are, or as bytes, out as records with their files.
- `pages.py`: every page → passages (reading order, running heads out, sections) and the reference list.
- `ocr.py`: scanned pages read by Tesseract.

The Library imports a PDF through `intake.PdfIntake` (a followed folder through `readers.PdfReaders`); nothing
outside this wing reads a PDF itself.
"""
