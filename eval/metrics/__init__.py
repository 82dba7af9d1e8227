"""Metrics, one per file: ``rouge_ja`` (eval-mm's Japanese ROUGE-L), ``vqa_accuracy`` (TextVQA /
VQA v2), ``judge`` (LLM-as-a-judge, 1–5) and ``heron`` (Heron-Bench's relative judge score)."""
