"""Chat prompts built from a problem: one function, used by training and by generation alike."""

from __future__ import annotations

from .problems import Problem

SYSTEM_PROMPT = (
    "You are an expert Python programmer. Solve the problem with a correct, efficient and readable "
    "solution. Answer with one ```python code block that defines the requested class and method."
)


def user_prompt(problem: Problem) -> str:
    """The dataset's own `query` when it has one; otherwise the description plus starter code."""
    if problem.query:
        return problem.query
    parts = [problem.description.strip()]
    if problem.starter_code.strip():
        parts.append(
            "Complete the following starter code:\n```python\n" + problem.starter_code.rstrip() + "\n```"
        )
    return "\n\n".join(p for p in parts if p)


def chat_messages(problem: Problem, system_prompt: str | None = SYSTEM_PROMPT) -> list[dict[str, str]]:
    """System + user messages for a chat template (the TRL conversational prompt format)."""
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    messages.append({"role": "user", "content": user_prompt(problem)})
    return messages
