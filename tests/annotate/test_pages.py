"""The project list and a project's page: what each user sees, escaping, and the layout."""

from __future__ import annotations

import pytest
from django.urls import NoReverseMatch, reverse

from annotate.models import AnnotationTask, Asset, Frame, LabelClass
from tests.conftest import PASSWORD


def login(client, user):
    assert client.login(username=user.username, password=PASSWORD)
    return client


def image_asset(project, name="street.jpg", sha="a", **fields) -> Asset:
    return Asset.objects.create(
        project=project,
        kind=Asset.Kind.IMAGE,
        file=f"projects/{project.pk}/assets/{sha}.jpg",
        thumbnail=f"projects/{project.pk}/thumbs/{sha}.jpg",
        original_name=name,
        sha256=sha * 64,
        content_type="image/jpeg",
        width=640,
        height=480,
        state=Asset.State.READY,
        **fields,
    )


def video_asset(project, *, sha="v", frames=10) -> Asset:
    asset = Asset.objects.create(
        project=project,
        kind=Asset.Kind.VIDEO,
        file=f"projects/{project.pk}/assets/{sha}.mp4",
        original_name=f"clip-{sha}.mp4",
        sha256=sha * 64,
        content_type="video/mp4",
        width=640,
        height=272,
        fps=25,
        frame_count=frames,
        state=Asset.State.READY,
    )
    Frame.objects.bulk_create(
        Frame(
            asset=asset, index=i, timestamp=i / 25, image=f"f/{sha}{i}.jpg", width=640, height=272
        )
        for i in range(frames)
    )
    return asset


def expected_url(name: str, pk: int, fallback: str) -> str:
    try:
        return reverse(name, args=[pk])
    except NoReverseMatch:
        return fallback


def test_home_sends_visitors_to_the_login_page(client, db):
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_login_page_renders_a_form_with_csrf(client, db):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert b'name="csrfmiddlewaretoken"' in response.content
    assert b'name="password"' in response.content


def test_annotator_sees_only_their_own_projects(client, alice, carol, project, other_project):
    response = login(client, alice).get(reverse("home"))
    assert response.status_code == 200
    assert project.name in response.text
    assert other_project.name not in response.text
    assert reverse("project-detail", args=[project.pk]) in response.text


def test_home_counts_media_and_done_tasks(client, alice, project):
    asset = image_asset(project)
    AnnotationTask.objects.create(project=project, asset=asset, kind="image", state="accepted")
    AnnotationTask.objects.create(
        project=project, asset=image_asset(project, sha="b"), kind="image"
    )
    response = login(client, alice).get(reverse("home"))
    (row,) = response.context["projects"]
    assert str(row[0].asset_count) == "2"
    assert str(row[0].task_count) == "2"
    assert str(row[0].tasks_done) == "1"
    assert row[1] == "Annotator"


def test_another_projects_page_is_not_found_for_every_method(client, carol, project):
    login(client, carol)
    url = reverse("project-detail", args=[project.pk])
    for method in ("get", "post", "put", "patch", "delete"):
        assert getattr(client, method)(url).status_code == 404, method


def test_own_project_page_refuses_writes(client, alice, project):
    response = login(client, alice).post(reverse("project-detail", args=[project.pk]))
    assert response.status_code == 405


def test_project_page_shows_thumbnails_frames_and_task_counts(client, alice, project):
    image = image_asset(project)
    video = video_asset(project, frames=12)
    AnnotationTask.objects.create(project=project, asset=image, kind="image")
    AnnotationTask.objects.create(
        project=project, asset=video, kind="video", frame_start=0, frame_end=9, frame_count=10,
        state="submitted",
    )  # fmt: skip
    response = login(client, alice).get(reverse("project-detail", args=[project.pk]))
    assert response.status_code == 200
    html = response.text
    thumb = expected_url("asset-thumbnail", image.pk, f"/media/assets/{image.pk}/thumbnail/")
    assert f'src="{thumb}"' in html
    frames = list(video.frames.order_by("index"))
    for frame in frames[:8]:
        assert (
            f'src="{expected_url("frame-image", frame.pk, f"/media/frames/{frame.pk}/")}"' in html
        )
    # Only the first few frames of a video are shown.
    last = expected_url("frame-image", frames[-1].pk, f"/media/frames/{frames[-1].pk}/")
    assert f'src="{last}"' not in html
    counts = {state: count.value for state, _label, count in response.context["task_counts"]}
    assert counts["pending"] == 1
    assert counts["submitted"] == 1
    assert response.context["task_total"].value == 2
    assert "clip-v.mp4" in html and "street.jpg" in html


def test_project_page_queries_do_not_grow_with_videos(
    client, alice, project, django_assert_max_num_queries
):
    login(client, alice)
    url = reverse("project-detail", args=[project.pk])
    for sha in "vwxyz":
        video_asset(project, sha=sha, frames=3)
    # 12 for the page, 4 for the loop's one-line summary (activelearn's template tag).
    with django_assert_max_num_queries(16):
        response = client.get(url)
    assert all(len(item["frames"]) == 3 for item in response.context["assets"])


def test_user_text_reaches_the_pages_escaped(client, alice, project):
    project.name = "<script>alert('name')</script>"
    project.description = "<img src=x onerror=alert(1)>"
    project.save()
    image_asset(project, name="<b>photo</b>.jpg")
    LabelClass.objects.create(project=project, name="<i>cls</i>", color="#123456", order=5)
    login(client, alice)
    for url in (reverse("home"), reverse("project-detail", args=[project.pk])):
        html = client.get(url).text
        assert "<script>alert" not in html
        assert "<img src=x" not in html
        assert "&lt;script&gt;" in html
    html = client.get(reverse("project-detail", args=[project.pk])).text
    assert "<b>photo</b>" not in html
    assert "<i>cls</i>" not in html


def test_a_colour_that_is_not_hex_never_reaches_a_style_attribute(client, alice, project):
    # Saved past the model's validator, as a raw database write could.
    LabelClass.objects.filter(project=project, name="person").update(color="red;x:y")
    html = login(client, alice).get(reverse("project-detail", args=[project.pk])).text
    assert "red;x:y" not in html
    assert "background: #888888" in html


@pytest.mark.parametrize(("who", "sees_admin"), [("alice", False), ("pat", True)])
def test_nav_links_admin_only_for_staff(client, request, who, sees_admin):
    user = request.getfixturevalue(who)
    html = login(client, user).get(reverse("home")).text
    assert (reverse("admin:index") in html) is sees_admin
    assert reverse("api-docs") in html


def test_logout_is_a_post_form_with_csrf(client, alice):
    html = login(client, alice).get(reverse("home")).text
    form_start = html.index(f'action="{reverse("logout")}"')
    form = html[html.rindex("<form", 0, form_start) : html.index("</form>", form_start)]
    assert 'method="post"' in form
    assert "csrfmiddlewaretoken" in form
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 302


@pytest.mark.parametrize(
    ("who", "links"),
    [
        ("alice", {"label-next"}),
        ("rita", {"review-list"}),
        ("pat", {"label-next", "review-list", "asset-upload"}),
        ("eve", {"asset-upload"}),
    ],
)
def test_project_page_links_what_the_role_may_do(client, request, project, who, links):
    user = request.getfixturevalue(who)
    html = login(client, user).get(reverse("project-detail", args=[project.pk])).text
    for name in ("label-next", "review-list", "asset-upload"):
        url = expected_url(name, project.pk, f"/no-such-page/{name}/")
        assert (f'href="{url}"' in html) is (name in links), name
