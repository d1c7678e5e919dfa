"""Reading an export back in the tests: the CSV's rows, or the Excel sheet's rows."""

import csv
import io

from openpyxl import load_workbook

BOM = b"\xef\xbb\xbf"


def body(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def csv_rows(response) -> list[list[str]]:
    data = body(response)
    assert data.startswith(BOM)
    return list(csv.reader(io.StringIO(data[len(BOM) :].decode("utf-8"))))


def xlsx_rows(response) -> list[tuple]:
    sheet = load_workbook(io.BytesIO(body(response)), read_only=True).active
    return [tuple(row) for row in sheet.iter_rows(values_only=True)]
