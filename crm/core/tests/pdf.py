"""PDF text for tests, read with pypdf (pure Python: no poppler needed on a new machine).

The layout mode keeps each table row on one line, so a test can find a row by its label and
check the figures beside it.
"""

from io import BytesIO
from pathlib import Path

from pypdf import PdfReader


def pdf_text(source: bytes | str | Path) -> str:
    data = BytesIO(source) if isinstance(source, bytes) else source
    reader = PdfReader(data)
    text = "\n".join(page.extract_text(extraction_mode="layout") for page in reader.pages)
    return text.replace("\xa0", " ").replace("\u202f", " ")
