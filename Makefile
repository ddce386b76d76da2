# Two commands do everything on a fresh machine: `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
RAG := $(VENV)/bin/rag
INDEX_DIR ?= index_data
HOST ?= 127.0.0.1
PORT ?= 8000
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
# llama-cpp-python compiles llama.cpp for this CPU (-march=native). On CPUs with AMX (Intel Sapphire Rapids and
# later) that turns on llama.cpp's AMX kernels, which crashed the first model call with a general protection fault
# on a 2-core virtual machine of this kind (seen 2026-12-03); the AVX-512/AVX2 kernels are used instead. A
# CMAKE_ARGS of your own replaces this. pip caches the wheel it builds: `pip cache remove llama_cpp_python` forces a
# rebuild with other flags.
ifeq ($(shell uname -m),x86_64)
NO_AMX := -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
export CMAKE_ARGS ?= -DCMAKE_C_FLAGS="$(NO_AMX)" -DCMAKE_CXX_FLAGS="$(NO_AMX)"
endif

.PHONY: install run index serve test bench clean loadtest scale

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install -e '.[dev,milvus]'
	$(RAG) models
	touch $@

install: $(VENV)/.installed

index: install
	$(RAG) index seeds --index-dir $(INDEX_DIR)

run: index
	$(RAG) serve --index-dir $(INDEX_DIR) --host $(HOST) --port $(PORT)

serve: install
	$(RAG) serve --index-dir $(INDEX_DIR) --host $(HOST) --port $(PORT)

# pytest exits 5 when it collects no tests; that is not a failure of the code under test.
test: install
	$(PY) -m pytest -q -ra; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; exit 0; fi; exit $$rc

# A bounded load test on loopback (200 requests, concurrency 8) against a fresh server of seeds/.
loadtest: install
	$(PY) -m api.loadtest

# Scale figures (README, Scaling out): 10^4 and 10^5 chunks on FAISS and Milvus Lite, 10^6 on FAISS. Long: about an
# hour on 2 cores, most of it the 10^6 build; the embedded sentences are cached in ~/.cache/rag/scale.
scale: install
	$(PY) -m eval.scale

# rag, the raw llama.cpp floor and LlamaIndex out of the box, side by side on the seed questions (eval/README.md,
# Speed: side by side). LlamaIndex is installed into .bench/llamaindex-venv on first use. Long with the defaults
# (149 questions, 3 repeats: LlamaIndex alone writes about 7 s a question on a quiet 2-core machine);
# BENCH_ARGS="--limit 30 --repeats 1" took 35 minutes on a loaded one.
BENCH_ARGS ?=
bench: install
	$(PY) -m eval.sidebyside $(BENCH_ARGS)

clean:
	rm -rf $(INDEX_DIR) .pytest_cache
