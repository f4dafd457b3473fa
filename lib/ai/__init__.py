"""LLM analysis: providers, prompts and the analyse step."""
