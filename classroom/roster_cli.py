"""``classroom roster import`` (and ``enroll``): the school's roster into the warehouse.

A roster is checked whole (``core.roster.load_roster``: every problem named with its line)
before anything is written. Each import stores a new version of the classroom's roster in
``roster_versions``, dated ``updated_at``: ``v_roster`` shows each person's latest row
(those dropped from the file are marked ``enrolled = false`` and leave it),
``v_roster_history`` every version. ``classroom analyze --roster`` stores its roster the
same way (``store_roster``).
"""

from __future__ import annotations

from pathlib import Path

import click

from core.roster import Roster, RosterError, Student, load_roster
from core.warehouse import RosterRow, Warehouse, WarehouseError
from schemas.settings import load_settings
from workers.warehouse_options import warehouse_options, with_warehouse


def roster_rows(roster: Roster, school_id: str, classroom_id: str) -> list[RosterRow]:
    """One warehouse row per person of ``roster``, with their consent per purpose (an old
    roster's single ``consent`` already read as the answer to all three, ``core.roster``)."""
    return [
        RosterRow(
            school_id=school_id,
            classroom_id=classroom_id,
            person_id=student.id,
            display_name=student.name,
            role=student.role,
            seat=_seats(student),
            consent_recording=student.consent,
            consent_emotion=student.consent_emotion,
            consent_face=student.consent_face,
            source=roster.source,
        )
        for student in sorted(roster.students.values(), key=lambda s: s.id)
    ]


def _seats(student: Student) -> str:
    """``cam-1:x,y,w,h`` per seat, ``;``-separated."""
    return ";".join(f"{seat.camera_id}:{','.join(map(str, seat.box))}" for seat in student.seats)


def store_roster(warehouse: Warehouse, roster: Roster, school_id: str, classroom_id: str) -> int:
    """Store ``roster`` as the classroom's newest roster version; the rows written.

    People of the previous version missing from this one get an ``enrolled = false`` row."""
    rows = roster_rows(roster, school_id, classroom_id)
    previous = warehouse.query(
        "SELECT person_id, role FROM v_roster "
        "WHERE school_id = {school:String} AND classroom_id = {classroom:String}",
        {"school": school_id, "classroom": classroom_id},
    ).result_rows
    rows += [
        RosterRow(
            school_id=school_id,
            classroom_id=classroom_id,
            person_id=person_id,
            role=role,
            enrolled=False,
            source=roster.source,
        )
        for person_id, role in previous
        if person_id not in roster.students
    ]
    return warehouse.insert_roster(rows)


@click.group()
def roster() -> None:
    """Class rosters: into the warehouse (import), faces for identity (enroll)."""


@roster.command()
@click.option(
    "--roster", "roster_path", required=True, type=click.Path(exists=True, path_type=Path)
)
@click.option("--student", "student_id", required=True, help="Student id in the roster.")
@click.argument("photos", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
def enroll(roster_path: Path, student_id: str, photos: tuple[Path, ...]) -> None:
    """Add face embeddings of STUDENT from PHOTOS (the largest face of each photo).

    The embeddings go to <roster>.embeddings.npz beside the roster, never to the warehouse.
    """
    # Imported here, not at the top: the face engine loads torch (seconds of CPU), which
    # `roster import` and `roster --help` have no use for.
    from classroom.vision_cli import enroll_faces

    target = enroll_faces(roster_path, student_id, photos)
    click.echo(f"enrolled {student_id} from {len(photos)} photo(s) into {target}")


@roster.command(name="import")
@click.argument("roster_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--school", "school_id", help="School id [default: camera.school_id].")
@click.option(
    "--classroom",
    "classroom_id",
    help="Classroom id [default: the roster's classroom_id, else camera.classroom_id].",
)
@warehouse_options
def import_roster(
    roster_file: Path,
    school_id: str | None,
    classroom_id: str | None,
    data_dir: Path | None,
    dsn: str | None,
) -> None:
    """Check ROSTER_FILE and store it as the classroom's newest roster version (v_roster).

    A file with a problem (a bad field, a duplicate id, overlapping seats, a seat on an
    unknown camera or outside its frame) is refused with its line; nothing is written.
    """
    settings = with_warehouse(load_settings(), data_dir, dsn)
    try:
        loaded = load_roster(roster_file, embeddings=False)
    except RosterError as exc:
        raise click.ClickException(str(exc)) from exc
    classroom = classroom_id or loaded.classroom_id or settings.camera.classroom_id
    if loaded.classroom_id and classroom != loaded.classroom_id:
        raise click.ClickException(
            f"{roster_file} is the roster of classroom {loaded.classroom_id!r}, not {classroom!r}"
        )
    school = school_id or settings.camera.school_id
    try:
        with Warehouse.connect(settings.warehouse) as warehouse:
            warehouse.migrate()
            written = store_roster(warehouse, loaded, school, classroom)
    except WarehouseError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"stored {written} roster rows of classroom {classroom} (school {school})")
