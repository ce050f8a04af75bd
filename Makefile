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
