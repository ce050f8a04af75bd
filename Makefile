# The README's two commands: `make run` and `make test`. Both install what is missing first.
.PHONY: run test test-fast install bench docs-check

install:
	@bash scripts/setup.sh

run: install
	@bash scripts/run.sh

test: install
	@bash scripts/test.sh

test-fast: install
	.venv/bin/python -m pytest -m "not slow" -q

# Benchmarks (not part of CI): results in bench/results/, summarised in docs/benchmarks.md.
bench: install
	bash bench/setup_peers.sh
	.venv/bin/python bench/smtp_bench.py
	.venv/bin/python bench/preview/run.py
	.venv/bin/python bench/stack/run.py
