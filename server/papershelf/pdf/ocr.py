"""The words of scanned pages, read by Tesseract (Debian's `tesseract-ocr`), in a reader worker at the lowest
priority: a page is drawn by PDFium at 200 dpi in grey and handed to `tesseract` as a PGM image on its standard
input. Without Tesseract, a scan's pages are counted as pages that cannot be searched, and papershelf says so."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pypdfium2 as pdfium

from .pages import Chunker, Passage
from .text import fix_glyphs

DPI = 200  # Tesseract's accuracy on body text levels off around 200-300 dpi; 200 costs half the pixels
PAGE_SECONDS = 120  # one page's OCR: a page that takes longer is skipped, named in the note


def available() -> bool:
    """Whether Tesseract is installed."""
    return shutil.which("tesseract") is not None


def _pgm(page) -> bytes:
    bitmap = page.render(scale=DPI / 72, grayscale=True)
    pixels = bitmap.to_numpy()
    if pixels.ndim == 3:
        pixels = pixels[:, :, 0]
    h, w = pixels.shape
    return b"P5\n%d %d\n255\n" % (w, h) + pixels.astype("uint8").tobytes()


def page_text(image: bytes) -> str:
    """Tesseract's text of one page image, at the lowest CPU priority."""
    command = ["tesseract", "stdin", "stdout", "-l", "eng"]
    if shutil.which("nice"):
        command = ["nice", "-n", "19"] + command
    # One thread: Tesseract's OpenMP threads spin while they wait. One page here took 19 s of wall time and 18 of
    # CPU (10 of them in the kernel) on 2 cores with them, 3.5 and 3.4 with one thread.
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    done = subprocess.run(command, input=image, capture_output=True, timeout=PAGE_SECONDS, check=False, env=env)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.decode(errors="replace").strip()[:200] or f"tesseract exited {done.returncode}")
    return done.stdout.decode("utf-8", errors="replace")


def ocr_passages(path: str, pages: list[int]) -> tuple[list[Passage], list[int], str]:
    """Passages of these 1-based pages as Tesseract reads them: (passages, pages that failed, why they did)."""
    doc = pdfium.PdfDocument(path)
    out: list[Passage] = []
    chunker = Chunker(out)
    failed, why = [], ""
    try:
        for number in pages:
            page = doc[number - 1]
            try:
                text = page_text(_pgm(page))
            except (RuntimeError, subprocess.TimeoutExpired, OSError) as e:
                failed.append(number)
                why = str(e)
                continue
            finally:
                page.close()
            for para in re.split(r"\n\s*\n", text):
                para = re.sub(r"-\n(?=[a-z])", "", para)  # a word broken at the line's end
                para = fix_glyphs(re.sub(r"\s+", " ", para)).strip()
                if para:
                    chunker.add(number, para)
            chunker.flush()
    finally:
        doc.close()
    return out, failed, why
