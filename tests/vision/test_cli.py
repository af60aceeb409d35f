"""``classroom faces`` on images and videos."""

from __future__ import annotations

import json

import cv2
from click.testing import CliRunner

from classroom.vision_cli import faces, model


def test_faces_json_on_an_image(shared_data):
    photo = shared_data / "faces" / "face_recognition__two_people.jpg"
    result = CliRunner().invoke(faces, [str(photo), "--json"])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.output.splitlines()]
    assert len(records) == 2
    for record in records:
        assert record["frame"] == 0 and record["path"] == str(photo)
        assert {"box", "track_id", "ear_left", "mar", "yaw", "expression", "person_id"} <= set(
            record
        )


def test_faces_text_on_a_short_video(classroom_frames, tmp_path):
    video = tmp_path / "three.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 25, (1280, 720))
    for frame in classroom_frames[:3]:
        writer.write(frame.image)
    writer.release()
    result = CliRunner(env={"CLASSROOM_POLICY__EMOTION": "off"}).invoke(faces, [str(video)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) >= 3 * 6
    assert all("yaw=" in line and "happy" not in line for line in lines)


def test_faces_refuses_a_non_video(tmp_path):
    junk = tmp_path / "notes.txt"
    junk.write_text("hello")
    result = CliRunner().invoke(faces, [str(junk)])
    assert result.exit_code != 0 and "notes.txt" in result.output


def test_model_list_prints_the_models_by_kind_under_their_setting():
    env = {"CLASSROOM_VISION__EYE_STATE_MODEL": "eye_cnn"}  # a bare arch: its default tag
    result = CliRunner(env=env).invoke(model, ["list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "detector (vision.detector = mtcnn)"
    for line in (
        "expression (vision.expression_model = vgg_narrow.fer2013)",
        "  mini_xception.fer2013",
        "  vgg_narrow.fer2013",
        "  vgg_narrow  (architecture to train: classroom model train --arch vgg_narrow)",
        "  resnet_cbam  (architecture to train: classroom model train --arch resnet_cbam)",
        "eye_state (vision.eye_state_model = eye_cnn)",
        "  eye_cnn.cew",
        "identity (vision.identity_model = dlib_resnet)",
        "  dlib_resnet",
        "  deepface_*  (plug-in core.vision.deepface_backend, loaded when named)",
    ):
        assert line in lines
