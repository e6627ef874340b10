# The README's two commands. Each creates the Python environment first if it is missing
# (scripts/in-env: the stack this host can load, or FASHION_PIPELINE_STACK=current|legacy), and
# reuses it after that; `make test` also installs Debian's chromium for the report's browser test
# when it can (scripts/ensure-chromium, run where the stack runs: in the Debian 13 root for the
# current stack on an older host).
#   make run                      the whole pipeline on Fashion-MNIST (ARGS="--epochs 2" to change it)
#   make test                     the linter (ruff, configured in pyproject.toml), then every test
#                                 (PYTEST_ARGS="-m 'not acceptance'" to pick some)

.PHONY: run test

run:
	scripts/in-env fashion-pipeline run $(ARGS)

test:
	scripts/in-env scripts/ensure-chromium
	scripts/in-env ruff check .
	scripts/in-env pytest $(PYTEST_ARGS)
