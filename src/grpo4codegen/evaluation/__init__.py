"""Evaluation: generate completions (hf, vllm, OpenAI-compatible), score them, report on several runs.

`score` and `report` never import torch; only the hf backend of `generate` does, when it runs.
"""
