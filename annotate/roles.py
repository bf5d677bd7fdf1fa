"""The three staff groups and the model permissions each gets in the admin.

Object-level access (which project) is separate: see annotate.permissions.
"""

GROUP_ANNOTATOR = "Annotator"
GROUP_PROJECT_MANAGER = "Project manager"
GROUP_ML_ENGINEER = "ML engineer"

_VIEW = ["view"]
_ALL = ["add", "change", "delete", "view"]

# group -> {model name in annotate: actions}
GROUP_PERMISSIONS: dict[str, dict[str, list[str]]] = {
    GROUP_ANNOTATOR: {
        "project": _VIEW,
        "labelclass": _VIEW,
        "asset": _VIEW,
        "frame": _VIEW,
        "annotationtask": _VIEW,
        "annotation": _VIEW,
    },
    GROUP_PROJECT_MANAGER: {
        "project": ["add", "change", "view"],
        "labelclass": _ALL,
        "membership": _ALL,
        "asset": _ALL,
        "frame": _VIEW,
        "annotationtask": ["change", "view"],
        "annotation": _VIEW,
        "box": _VIEW,
        "keypointinstance": _VIEW,
        "track": _VIEW,
        "review": _VIEW,
        "budget": ["add", "change", "view"],
        "tasklease": _VIEW,
        "budgetledger": _VIEW,
        "qualitysettings": ["add", "change", "view"],
        "goldattempt": _VIEW,
        "reviewsample": _VIEW,
    },
    GROUP_ML_ENGINEER: {
        "project": _VIEW,
        "labelclass": _VIEW,
        "asset": _VIEW,
        "frame": _VIEW,
        "annotationtask": _VIEW,
        "annotation": _VIEW,
        "box": _VIEW,
        "keypointinstance": _VIEW,
        "track": _VIEW,
        "review": _VIEW,
    },
}


def sync_groups(group_model, permission_model, app_label: str = "annotate") -> None:
    """Create the groups and give each exactly its listed permissions (idempotent)."""
    for group_name, models in GROUP_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=group_name)
        codenames = [f"{action}_{model}" for model, actions in models.items() for action in actions]
        perms = permission_model.objects.filter(
            content_type__app_label=app_label, codename__in=codenames
        )
        group.permissions.add(*perms)
