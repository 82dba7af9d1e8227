"""Evaluation on the Japanese benchmarks (Heron-Bench, JA-VLM-Bench-In-the-Wild, JA-VG-VQA-500) and
TextVQA; one concept per file:

- ``tasks/`` — one file per benchmark and the registry (:func:`eval.tasks.get_task`);
- ``metrics/`` — eval-mm's Japanese ROUGE-L, VQA accuracy, the 1–5 LLM judge, Heron-Bench's score;
- ``prompts.py`` — each model's prompt format (chat template, or ``llmjp_v3`` for our checkpoints);
- ``runner.py`` — greedy, batched answers from any image-text-to-text model;
- ``scoring.py`` — a task's metrics applied to its answers;
- ``report.py`` — ``report.json``, ``report.md`` and ``model-index.yaml``;
- ``evaluate.py`` — ``ja-vila eval`` put together; ``demo.py`` — the demo's evaluation stage.
"""
