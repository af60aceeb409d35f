"""Consent per purpose in the roster file (pure logic, no services): recording, emotion and
face each read on their own; an older roster's single ``consent`` answers all three; a
per-purpose key overrides it; a mistyped one is refused with its line; ``classroom roster
import`` rows carry each purpose as the file says; face identity compares no descriptor
with the enrolled face of a student without face consent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from classroom.roster_cli import roster_rows
from core.roster import Roster, RosterError, Student, load_roster

PURPOSES = ("consent", "consent_emotion", "consent_face")
"""``Student``'s three answers: ``consent`` is recording consent (any event at all)."""


def consents(path: Path) -> dict[str, tuple[bool, bool, bool]]:
    roster = load_roster(path, embeddings=False)
    return {
        student.id: tuple(getattr(student, purpose) for purpose in PURPOSES)
        for student in roster.students.values()
    }


def write(tmp_path: Path, students: str) -> Path:
    path = tmp_path / "roster.yaml"
    path.write_text(f"students:\n{students}")
    return path


def test_each_purpose_is_read_on_its_own(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "  - {id: s-all, consent_recording: true, consent_emotion: true, consent_face: true}\n"
        "  - {id: s-no-emotion, consent_recording: true, consent_face: true}\n"
        "  - {id: s-no-face, consent_recording: true, consent_emotion: true}\n"
        "  - {id: s-recording-only, consent_recording: true, consent_emotion: false}\n"
        "  - {id: s-silent}\n",
    )
    assert consents(path) == {
        "s-all": (True, True, True),
        "s-no-emotion": (True, False, True),  # a purpose left out is not agreed to
        "s-no-face": (True, True, False),
        "s-recording-only": (True, False, False),
        "s-silent": (False, False, False),
    }


def test_the_old_single_consent_answers_all_three_unless_a_purpose_says_otherwise(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        "  - {id: s-yes, consent: true}\n"
        "  - {id: s-no, consent: false}\n"
        "  - {id: s-yes-but-emotion, consent: true, consent_emotion: false}\n"
        "  - {id: s-no-but-recording, consent: false, consent_recording: true}\n",
    )
    assert consents(path) == {
        "s-yes": (True, True, True),
        "s-no": (False, False, False),
        "s-yes-but-emotion": (True, False, True),
        "s-no-but-recording": (True, False, False),
    }


@pytest.mark.parametrize("purpose", ["consent_recording", "consent_emotion", "consent_face"])
def test_a_mistyped_purpose_is_refused_with_its_line(tmp_path: Path, purpose: str) -> None:
    path = write(tmp_path, f"  - {{id: s-1, consent: true}}\n  - {{id: s-2, {purpose}: 'yes'}}\n")
    with pytest.raises(RosterError, match=f"line 3: students.1.{purpose}"):
        load_roster(path)
    # Control: the same file with a boolean loads.
    write(tmp_path, f"  - {{id: s-1, consent: true}}\n  - {{id: s-2, {purpose}: true}}\n")
    assert load_roster(path).students["s-2"]


def test_roster_import_rows_carry_each_purpose(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "  - {id: s-old, consent: true}\n"
        "  - {id: s-no-emotion, consent: true, consent_emotion: false}\n"
        "  - {id: s-face-only, consent_face: true}\n",
    )
    rows = roster_rows(load_roster(path, embeddings=False), "school-1", "room-1")
    stored = {
        row.person_id: (row.consent_recording, row.consent_emotion, row.consent_face)
        for row in rows
    }
    assert stored == {
        "s-old": (True, True, True),
        "s-no-emotion": (True, False, True),
        "s-face-only": (False, False, True),
    }


def test_a_student_without_face_consent_is_never_matched_by_embedding() -> None:
    descriptor = np.linspace(0.0, 1.0, 128, dtype=np.float32)
    enrolled = {"s-private": descriptor[None], "s-open": descriptor[None] + 0.5}

    def roster(face_consent: bool) -> Roster:
        private = Student("s-private", consent=True, consent_face=face_consent)
        open_ = Student("s-open", consent=True, consent_face=True)
        return Roster({"s-private": private, "s-open": open_}, embeddings=enrolled)

    # Control: with face consent, the descriptor finds the student it was enrolled from.
    assert roster(face_consent=True).nearest(descriptor, 0.6).id == "s-private"
    assert roster(face_consent=False).nearest(descriptor, 0.6) is None
    # ... and nobody else is named in their place when another face is within reach.
    assert roster(face_consent=False).nearest(descriptor, 10.0).id == "s-open"
