"""LLM analysis prompts: one module per prompt, discovered from this folder (see lib/ai/prompts.py)."""
