"""ja-vila: Japanese vision-language datasets, LLM-jp-3 VILA training, evaluation and Hub release."""

from dataset_builders.project import VERSION as __version__  # noqa: F401 - the package's version, from its metadata
