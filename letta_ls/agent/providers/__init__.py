"""Model providers: OpenAI-compatible Chat Completions, Anthropic Messages, and the embedded local model."""
