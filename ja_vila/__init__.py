"""ja-vila: Japanese vision-language datasets, LLM-jp-3 VILA training, evaluation and Hub release."""

__version__ = "0.1.0"

#: Where the toolkit lives; cards and reports link it (the Hub's model-index needs a source URL).
PROJECT_URL = "https://github.com/llm-jp/ja-vila"
