"""The worker: consumes jobs, calls Gemini or the local effect, publishes status and results."""
