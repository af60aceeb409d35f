"""The one rule for ids (school, classroom, camera, session, person, event), shared by the
event contracts and the settings. Imports nothing, so both can stand on it."""

ID_CHARACTERS = "A-Za-z0-9_.:/-"
"""Letters, digits and ``_ . : / -``: enough for ``cam-1/t3`` and ``2026-11-22T08:15``,
and nothing that can end a quoted string or a comment in SQL, or a line in a log."""
ID_PATTERN = f"^[{ID_CHARACTERS}]+$"
ID_MAX_LENGTH = 128
