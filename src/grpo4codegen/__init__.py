"""GRPO4CodeGen: GRPO alignment of code LLMs with rewards from executing the generated code.

Data flow: data (problems, tests, prompts) -> sandbox (execution) -> rewards -> training -> evaluation.
"""

__version__ = "0.1.0"
