"""Releasing a dataset folder or a model folder to the Hugging Face Hub.

Every release runs the same four steps: verify the folder locally (``load_dataset`` /
``from_pretrained``), render its card from structured data (``model_cards/templates``), stage the
exact folder to upload (never caches, logs or temporary files), then push it with
``huggingface_hub`` (``create_repo(exist_ok=True)`` + resumable ``upload_folder``, with retries).
``dry_run=True`` stops after staging and returns the operations it would have run.

    from model_cards.release import release_dataset, release_model
    plan = release_dataset("out/ja-pairs", "org/ja-pairs", dry_run=True)
    plan.describe()   # the Hub calls it would make and every staged file
"""

from model_cards.release.dataset import release_dataset
from model_cards.release.hub import HubClient, resolve_token
from model_cards.release.model import release_model
from model_cards.release.plan import HubCall, ReleaseError, ReleasePlan, StagedFile

__all__ = ["HubCall", "HubClient", "ReleaseError", "ReleasePlan", "StagedFile", "release_dataset", "release_model",
           "resolve_token"]
