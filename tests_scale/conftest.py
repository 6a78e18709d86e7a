"""The scale tests. The harness itself is loaded by the root conftest.py (plugins/)."""
