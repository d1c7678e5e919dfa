"""Reading the text files people upload (CSV exported by spreadsheets, address books).

Shared by every import (contacts, the suppression list), so that a file saved by Excel on
Windows reads the same everywhere.
"""

import csv

# Encodings the detector may choose (Excel's "Unicode text" and the Western code pages); on a
# short file it may guess an exotic code page, and cp1252 is then the better bet.
TRUSTED_GUESSES = {"utf_16", "utf_16_le", "utf_16_be", "cp1252", "latin_1", "iso8859_15"}


def decode_text(data: bytes) -> str:
    """The text of an uploaded file: UTF-8 (with or without BOM), else the detected encoding.

    Spreadsheets on Windows save CSV as Windows-1252; strict UTF-8 is tried first because a
    detector may misread a short, mostly-ASCII file. cp1252 is the last resort (it decodes
    almost any byte), so "Peña" from Excel arrives as "Peña".
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data[:200_000]).best()
    if best is not None and best.encoding in TRUSTED_GUESSES:
        return data.decode(best.encoding, errors="replace")
    return data.decode("cp1252", errors="replace")


def sniff_delimiter(sample: str, delimiters: str = ",;\t") -> str:
    """The separator of a CSV: Excel in Spanish saves with ";" (the comma is the decimal mark).

    csv.Sniffer first; when it cannot tell, the separator the header line holds most of.
    """
    try:
        return csv.Sniffer().sniff(sample, delimiters=delimiters).delimiter
    except csv.Error:
        first = sample.split("\n", 1)[0]
        counts = {d: first.count(d) for d in delimiters}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","
