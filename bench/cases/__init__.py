"""The bench's cases: produce, sink catch-up, end-to-end latency, query, memory."""
