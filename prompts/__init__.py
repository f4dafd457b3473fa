"""LLM analysis prompts: one module per prompt, discovered from this folder (a later issue)."""
