"""Identity by seat map and by enrolled faces; consent; the roster file."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from classroom.roster_cli import roster as roster_command
from core.roster import RosterError, load_roster
from core.vision import DecodedFrame
from core.vision.identity import FaceEncoder, save_embeddings


def write_roster(path, students):
    path.write_text(yaml.safe_dump({"students": students}))
    return path


def face_boxes(result):
    return {e.track_id: e.box for e in result.events}


def test_seat_mode_assigns_by_seat_map(tmp_path, engine_factory, classroom_frames):
    # Seats drawn around two pupils of frame 0 (boxes from the anonymous run).
    path = write_roster(
        tmp_path / "roster.yaml",
        [
            {
                "id": "s-left",
                "role": "student",
                "consent": True,  # opt-in: without it the pupil would be dropped
                "seats": [{"camera_id": "cam-1", "box": [440, 160, 110, 120]}],
            },
            {
                "id": "t-back",
                "role": "teacher",
                "consent": True,
                "seats": [{"camera_id": "cam-1", "box": [600, 40, 110, 120]}],
            },
            {"id": "s-other-camera", "seats": [{"camera_id": "cam-2", "box": [0, 0, 1280, 720]}]},
        ],
    )
    engine = engine_factory(roster=load_roster(path), identity="seat", emotion="off")
    events = engine.process(classroom_frames[:1])[0].events
    by_person = {e.person_id: e for e in events}
    assert by_person["s-left"].identity_source == "seat" and by_person["s-left"].role == "student"
    assert by_person["t-back"].role == "teacher"
    assert "s-other-camera" not in by_person
    anonymous = [e for e in events if e.identity_source == "track"]
    assert len(anonymous) == len(events) - 2
    assert all(e.person_id == f"cam-1/t{e.track_id}" for e in anonymous)


def test_no_consent_faces_are_dropped(tmp_path, engine_factory, classroom_frames):
    path = write_roster(
        tmp_path / "roster.yaml",
        [
            {
                "id": "s-private",
                "consent": False,
                "seats": [{"camera_id": "cam-1", "box": [440, 160, 110, 120]}],
            }
        ],
    )
    engine = engine_factory(roster=load_roster(path), identity="seat")
    result = engine.process(classroom_frames[:1])[0]
    assert all(e.person_id != "s-private" for e in result.events)
    assert all(
        not (440 <= e.box[0] + e.box[2] / 2 < 550 and 160 <= e.box[1] + e.box[3] / 2 < 280)
        for e in result.events
    )
    assert [e.face_index for e in result.events] == list(range(len(result.events)))
    assert all(e.frame_faces == len(result.events) for e in result.events)
    assert len(result.landmarks) == len(result.events)


def test_face_mode_reidentifies_an_enrolled_pupil(tmp_path, engine_factory, classroom_frames):
    consenting = [{"id": "s-anna", "consent": True}, {"id": "s-ben", "consent": True}]
    path = write_roster(tmp_path / "roster.yaml", consenting)
    enroller = engine_factory(emotion="off")
    encoder = FaceEncoder()
    # Enrol the girl left of centre in the front row (face centre ~(495, 223)) from
    # frame 0: everything but her face blanked out.
    frame = classroom_frames[0].image
    crop = np.zeros_like(frame)
    crop[150:300, 420:570] = frame[150:300, 420:570]
    descriptor = enroller.largest_face_descriptor(crop, encoder)
    assert descriptor is not None and descriptor.shape == (128,)
    save_embeddings(path, "s-anna", descriptor[None], model="dlib_resnet")

    engine = engine_factory(roster=load_roster(path), identity="face", emotion="off")
    later = [classroom_frames[i] for i in (40, 80, 100)]
    for frame in later:
        # Each frame on its own camera: fresh tracks, so identity is decided anew.
        alone = DecodedFrame(replace(frame.meta, camera_id=f"cam-{frame.meta.seq}"), frame.image)
        events = engine.process([alone])[0].events
        anna = [e for e in events if e.person_id == "s-anna"]
        assert len(anna) == 1, [(e.person_id, e.box) for e in events]
        x, y, w, h = anna[0].box
        assert abs(x + w / 2 - 495) < 100 and abs(y + h / 2 - 223) < 100
        assert anna[0].identity_source == "face"
        # Consent is opt-in: a track not recognised as a consenting student leaves no event.
        assert events == anna


def test_enroll_command_writes_embeddings_beside_the_roster(tmp_path, shared_data):
    path = write_roster(
        tmp_path / "class.yaml", [{"id": "s-obama", "consent": True}, {"id": "s-biden"}]
    )
    photo = shared_data / "faces" / "face_recognition__obama_and_biden.jpg"
    result = CliRunner().invoke(
        roster_command, ["enroll", "--roster", str(path), "--student", "s-obama", str(photo)]
    )
    assert result.exit_code == 0, result.output
    roster = load_roster(path)
    assert roster.embeddings["s-obama"].shape == (1, 128)
    assert (tmp_path / "class.yaml.embeddings.npz").exists()
    unknown = CliRunner().invoke(
        roster_command, ["enroll", "--roster", str(path), "--student", "nobody", str(photo)]
    )
    assert unknown.exit_code != 0 and "not in roster" in unknown.output
    refused = CliRunner().invoke(
        roster_command, ["enroll", "--roster", str(path), "--student", "s-biden", str(photo)]
    )
    assert refused.exit_code != 0 and "no consent_face" in refused.output
    assert roster.embeddings_model == "dlib_resnet"


def test_embeddings_of_another_identity_model_are_refused(tmp_path):
    """Vectors of two models never compare: switching models means enrolling again."""
    pupils = [{"id": "s-anna", "consent": True}, {"id": "s-ben", "consent": True}]
    path = write_roster(tmp_path / "class.yaml", pupils)
    save_embeddings(path, "s-anna", np.ones((1, 128), np.float32), model="dlib_resnet")
    with pytest.raises(RosterError, match="enroll every student again"):
        save_embeddings(path, "s-ben", np.ones((1, 128), np.float32), model="deepface_facenet")
    with pytest.raises(RosterError, match="'dlib_resnet'"):
        load_roster(path).check_embeddings_model("deepface_facenet")


@pytest.mark.parametrize(
    "students, reason",
    [
        ("not a list", "students"),
        ([{"name": "no id"}], "id"),
        ([{"id": "a", "role": "janitor"}], "role"),
        ([{"id": "a", "consent": "yes"}], "consent"),
        ([{"id": "a", "seats": [{"camera_id": "cam-1", "box": [1, 2, 3]}]}], "seat"),
        ([{"id": "a"}, {"id": "a"}], "twice"),
    ],
)
def test_invalid_rosters_are_refused(tmp_path, students, reason):
    path = write_roster(tmp_path / "roster.yaml", students)
    with pytest.raises(RosterError, match=reason):
        load_roster(path)


def test_missing_roster_is_a_roster_error(tmp_path):
    with pytest.raises(RosterError):
        load_roster(tmp_path / "missing.yaml")


def test_a_student_is_found_again_after_their_track_ends(
    tmp_path, engine_factory, classroom_frames
):
    path = write_roster(tmp_path / "roster.yaml", [{"id": "s-anna", "consent": True}])
    enroller = engine_factory(emotion="off")
    frame = classroom_frames[0].image
    crop = np.zeros_like(frame)
    crop[150:300, 420:570] = frame[150:300, 420:570]
    descriptor = enroller.largest_face_descriptor(crop, FaceEncoder())
    save_embeddings(path, "s-anna", descriptor[None], model="dlib_resnet")
    engine = engine_factory(roster=load_roster(path), identity="face", emotion="off")

    def anna_tracks(index: int, at: float, image=None) -> list[int]:
        source = classroom_frames[index]
        alone = DecodedFrame(
            replace(source.meta, captured_at=at), source.image if image is None else image
        )
        return [e.track_id for e in engine.process([alone])[0].events if e.person_id == "s-anna"]

    first = anna_tracks(40, 100.0)
    assert len(first) == 1
    assert anna_tracks(0, 102.0, np.zeros_like(frame)) == []  # nobody: every track ends
    again = anna_tracks(80, 104.0)
    assert len(again) == 1 and again != first
    alive = {track.track_id for track in engine.trackers["cam-1"].tracks}
    assert {track_id for _, track_id in engine.track_identities} <= alive
