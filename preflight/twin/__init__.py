"""The Azure twin: a loopback Azure for tests, the demo and benchmarks."""
