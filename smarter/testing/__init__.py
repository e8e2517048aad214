"""Test support shipped with the project: local stand-ins for the network services Smarter calls.

Tests and benchmarks never reach the internet; an upstream LLM is `openai_stub.OpenAIStub`, a
real HTTP server on loopback speaking the OpenAI Chat Completions protocol.
"""
