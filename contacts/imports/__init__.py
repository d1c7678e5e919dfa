"""Importing contacts (issue 10): files people have, read, mapped, previewed, then written.

- readers: a file (CSV, XLSX, vCard) → a header and rows of text.
- mapping: which column feeds which field, suggested from the header, saved by name.
- rows: each row normalised, validated with the model's own validators, and classified
  (new, update, duplicate of an existing contact, error with its reason in Spanish).
- runner: the preview (nothing written), the run in batches (progress, cancel, resume after a
  lost worker, the rejected-rows file) and its undo.
- writer: a classified batch written (COPY on PostgreSQL, history by INSERT … SELECT, one
  record of what it did per batch for the undo).

`ImportRun` (models) is the job: the database, not Celery, holds what is to be done.
"""
