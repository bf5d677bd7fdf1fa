"""Videos: probed at upload, stored PENDING, then frames extracted at the project's stride
and segment tasks made, through a real Celery worker; failures leave nothing half-written."""

from __future__ import annotations

import io
import shutil
import time
from pathlib import Path

import pytest

from annotate.ingest.services import ingest_files
from annotate.ingest.video import video_process
from annotate.models import AnnotationTask, Asset, Frame
from tests.annotate.ingest_media import avi_claiming_frames, project_files, video_bytes


def _wait_until_done(asset_id: int, timeout: float = 90) -> Asset:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        asset = Asset.objects.get(pk=asset_id)
        if asset.state in (Asset.State.READY, Asset.State.FAILED):
            return asset
        time.sleep(0.2)
    raise AssertionError(f"asset {asset_id} still {asset.state} after {timeout} s")


@pytest.fixture
def shared_media(settings, project):
    """The worker writes to the default MEDIA_ROOT; remove this project's files afterwards."""
    yield Path(settings.MEDIA_ROOT)
    shutil.rmtree(Path(settings.MEDIA_ROOT) / "projects" / str(project.pk), ignore_errors=True)


def _stride_3_segments_of_4(project):
    project.frame_stride = 3
    project.segment_length = 4
    project.save(update_fields=["frame_stride", "segment_length"])


@pytest.mark.worker
def test_a_video_is_split_into_frames_at_the_stride_and_segment_tasks_by_the_worker(
    transactional_db, celery_worker, project, pat, tmp_path, shared_media
):
    _stride_3_segments_of_4(project)
    data = video_bytes(tmp_path, frames=25, fps=10.0, size=(64, 48))

    report = ingest_files(project=project, files=[("street.avi", io.BytesIO(data))], user=pat)

    assert [r.status for r in report.results] == ["created"]
    assert report.results[0].state == "pending"
    asset = _wait_until_done(report.created_ids[0])
    assert asset.state == Asset.State.READY, asset.failure_reason
    assert asset.progress == 1.0
    assert asset.frame_count == 25
    assert asset.fps == pytest.approx(10.0)
    assert asset.duration == pytest.approx(2.5)
    assert (asset.width, asset.height) == (64, 48)
    assert asset.content_type == "video/x-msvideo"
    assert asset.thumbnail.name
    frames = list(Frame.objects.filter(asset=asset).order_by("index"))
    assert [f.index for f in frames] == [0, 3, 6, 9, 12, 15, 18, 21, 24]
    assert frames[1].timestamp == pytest.approx(0.3)
    assert all(f.image.storage.exists(f.image.name) for f in frames)
    tasks = AnnotationTask.objects.filter(asset=asset).order_by("frame_start")
    assert [(t.kind, t.frame_start, t.frame_end, t.frame_count) for t in tasks] == [
        ("video", 0, 9, 4),
        ("video", 12, 21, 4),
        ("video", 24, 24, 1),
    ]


@pytest.mark.worker
def test_an_mp4_made_with_mp4v_goes_through_the_worker(
    transactional_db, celery_worker, project, tmp_path, shared_media
):
    data = video_bytes(tmp_path, "clip.mp4", frames=12, fps=12.0)

    report = ingest_files(project=project, files=[("clip.mp4", io.BytesIO(data))])

    asset = _wait_until_done(report.created_ids[0])
    assert asset.state == Asset.State.READY, asset.failure_reason
    assert asset.content_type == "video/mp4"
    assert asset.frame_count == 12
    assert Frame.objects.filter(asset=asset).count() == 12  # fixture project: stride 1
    assert AnnotationTask.objects.filter(asset=asset).count() == 2  # segments of 10


def _pending_video(project, tmp_path, monkeypatch, **kwargs) -> Asset:
    # Store the video without enqueueing: these tests run the job in-process.
    monkeypatch.setattr("annotate.ingest.services._enqueue_video", lambda *args: None)
    data = video_bytes(tmp_path, **kwargs)
    report = ingest_files(project=project, files=[("v.avi", io.BytesIO(data))])
    return Asset.objects.get(pk=report.created_ids[0])


@pytest.mark.django_db
def test_processing_a_video_twice_gives_the_same_frames_and_tasks(
    project, media_root, tmp_path, monkeypatch
):
    asset = _pending_video(project, tmp_path, monkeypatch, frames=15)

    assert video_process(asset_id=asset.pk) == "ready"
    first = list(Frame.objects.filter(asset=asset).values_list("index", "image"))
    files = project_files(media_root, project.pk)
    assert video_process(asset_id=asset.pk) == "skipped"

    assert list(Frame.objects.filter(asset=asset).values_list("index", "image")) == first
    assert project_files(media_root, project.pk) == files
    assert AnnotationTask.objects.filter(asset=asset).count() == 2


@pytest.mark.django_db
def test_a_redelivered_job_after_a_lost_worker_runs_again_from_scratch(
    project, media_root, tmp_path, monkeypatch
):
    asset = _pending_video(project, tmp_path, monkeypatch, frames=15)
    # A worker died mid-way: the claim is taken, nothing was written.
    Asset.objects.filter(pk=asset.pk).update(state=Asset.State.PROCESSING, progress=0.4)

    assert video_process(asset_id=asset.pk) == "ready"

    asset.refresh_from_db()
    assert (asset.state, asset.progress, asset.frame_count) == ("ready", 1.0, 15)
    assert Frame.objects.filter(asset=asset).count() == 15


@pytest.mark.django_db
def test_a_decoder_over_its_memory_limit_fails_the_asset_and_leaves_no_frames(
    project, media_root, tmp_path, monkeypatch
):
    asset = _pending_video(project, tmp_path, monkeypatch, frames=15)
    files_before = project_files(media_root, project.pk)

    outcome = video_process(asset_id=asset.pk, memory_bytes=64 * 1024 * 1024)

    assert outcome == "failed"
    asset.refresh_from_db()
    assert asset.state == Asset.State.FAILED
    assert "more memory than allowed" in asset.failure_reason
    assert not Frame.objects.filter(asset=asset).exists()
    assert not AnnotationTask.objects.filter(asset=asset).exists()
    assert project_files(media_root, project.pk) == files_before  # only the original


@pytest.mark.django_db
def test_a_video_damaged_after_upload_fails_with_a_reason(
    project, media_root, tmp_path, monkeypatch
):
    asset = _pending_video(project, tmp_path, monkeypatch, frames=5)
    with open(asset.file.path, "wb") as handle:
        handle.write(b"\x00" * 100)

    assert video_process(asset_id=asset.pk) == "failed"

    asset.refresh_from_db()
    assert asset.state == Asset.State.FAILED
    assert "cannot open this video" in asset.failure_reason
    assert not Frame.objects.filter(asset=asset).exists()


def test_a_decoder_over_its_time_limit_is_killed_with_a_clear_message(tmp_path, monkeypatch):
    from annotate.ingest.video import VideoRejected, decoder_events

    hanging = tmp_path / "hang.py"
    hanging.write_text("import time\ntime.sleep(60)\n")
    monkeypatch.setattr("annotate.ingest.video.DECODER", hanging)
    started = time.monotonic()

    with pytest.raises(VideoRejected, match=r"longer than the limit of 0.5 s"):
        list(decoder_events(["extract", "x.avi", str(tmp_path), "1", "90"], timeout=0.5))

    assert time.monotonic() - started < 30


@pytest.mark.django_db
def test_a_crashing_decoder_fails_the_asset_not_the_caller(
    project, media_root, tmp_path, monkeypatch
):
    asset = _pending_video(project, tmp_path, monkeypatch, frames=5)
    crasher = tmp_path / "crash.py"
    crasher.write_text("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n")
    monkeypatch.setattr("annotate.ingest.video.DECODER", crasher)

    assert video_process(asset_id=asset.pk) == "failed"

    asset.refresh_from_db()
    assert asset.state == Asset.State.FAILED
    assert "crashed (SIGSEGV)" in asset.failure_reason
    assert not Frame.objects.filter(asset=asset).exists()


@pytest.mark.django_db
def test_frames_are_counted_by_reading_not_from_the_container_header(
    project, media_root, tmp_path, monkeypatch
):
    monkeypatch.setattr("annotate.ingest.services._enqueue_video", lambda *args: None)
    lying = avi_claiming_frames(video_bytes(tmp_path, frames=25), claimed=1000)
    report = ingest_files(project=project, files=[("lying.avi", io.BytesIO(lying))])

    assert video_process(asset_id=report.created_ids[0]) == "ready"

    asset = Asset.objects.get(pk=report.created_ids[0])
    assert asset.frame_count == 25
    assert asset.duration == pytest.approx(2.5)
    assert Frame.objects.filter(asset=asset).count() == 25


@pytest.mark.django_db
def test_frame_files_left_by_a_killed_run_are_removed_when_it_runs_again(
    project, media_root, tmp_path, monkeypatch
):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    asset = _pending_video(project, tmp_path, monkeypatch, frames=4)
    Asset.objects.filter(pk=asset.pk).update(state=Asset.State.PROCESSING)
    left = default_storage.save(
        f"projects/{project.pk}/frames/{asset.pk}/left-behind.jpg", ContentFile(b"x")
    )

    assert video_process(asset_id=asset.pk) == "ready"

    assert not default_storage.exists(left)
    assert all(f.image.storage.exists(f.image.name) for f in Frame.objects.filter(asset=asset))


@pytest.mark.django_db
def test_a_video_is_queued_after_commit_and_a_down_queue_is_said_not_hidden(
    project, media_root, tmp_path, monkeypatch, django_capture_on_commit_callbacks
):
    from kombu.exceptions import OperationalError

    def queue_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr("annotate.jobs.job_send", queue_down)
    data = video_bytes(tmp_path, frames=3)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        report = ingest_files(project=project, files=[("v.avi", io.BytesIO(data))])

    assert len(callbacks) == 1
    result = report.results[0]
    assert result.status == "created"
    assert "task queue is unavailable" in result.message
    assert Asset.objects.get(pk=result.asset_id).state == Asset.State.PENDING


@pytest.mark.django_db
def test_a_second_delivery_while_a_run_is_going_is_skipped(
    project, media_root, tmp_path, monkeypatch
):
    import psycopg
    from django.db import connection

    from annotate.ingest.video import LOCK_NAMESPACE

    asset = _pending_video(project, tmp_path, monkeypatch, frames=3)
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname=db["NAME"],
        autocommit=True,
    ) as other_run:
        other_run.execute("SELECT pg_advisory_lock(%s, %s)", [LOCK_NAMESPACE, asset.pk])

        assert video_process(asset_id=asset.pk) == "skipped"
        assert Asset.objects.get(pk=asset.pk).state == Asset.State.PENDING
        other_run.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, asset.pk])

    assert video_process(asset_id=asset.pk) == "ready"


@pytest.mark.django_db
def test_pending_and_processing_videos_are_queued_again(project, media_root, tmp_path, monkeypatch):
    from annotate.ingest.services import videos_enqueue_pending

    pending = _pending_video(project, tmp_path, monkeypatch, frames=3)
    stuck = _pending_video(project, tmp_path, monkeypatch, frames=4)
    done = _pending_video(project, tmp_path, monkeypatch, frames=5)
    Asset.objects.filter(pk=stuck.pk).update(state=Asset.State.PROCESSING)
    Asset.objects.filter(pk=done.pk).update(state=Asset.State.READY)
    queued = []
    monkeypatch.setattr("annotate.jobs.job_send", lambda name, args: queued.append(args[0]))

    assert videos_enqueue_pending(project=project) == 2
    assert sorted(queued) == sorted([pending.pk, stuck.pk])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("filename", "content_type"),
    [("clip.mkv", "video/x-matroska"), ("clip.mov", "video/quicktime")],
)
def test_matroska_and_quicktime_videos_are_recognised_by_content(
    project, media_root, tmp_path, monkeypatch, filename, content_type
):
    monkeypatch.setattr("annotate.ingest.services._enqueue_video", lambda *args: None)
    data = video_bytes(tmp_path, filename, frames=6)

    report = ingest_files(project=project, files=[("upload.bin", io.BytesIO(data))])

    asset = Asset.objects.get(pk=report.created_ids[0])
    assert asset.content_type == content_type
    assert video_process(asset_id=asset.pk) == "ready"
    assert Asset.objects.get(pk=asset.pk).frame_count == 6
