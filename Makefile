# filterscope: `make run` sets up and rebuilds every result; `make test` runs the test suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Torch and torchvision are installed as a matching pair (see README).
TORCH_PAIR ?= torch==2.14.1 torchvision==0.29.1
# Default test selection: everything but the tests marked slow, on both cores: two pytest
# workers (pytest-xdist), each test module whole on one worker so its module-scoped pipeline
# run is built once, modules handed out in collection order (integration modules first, see
# tests/conftest.py), and torch at one thread per process so workers do not fight over cores.
TEST_WORKERS ?= 2
PARALLEL := -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder
PYTEST_ARGS ?= -m "not slow" $(PARALLEL)

.PHONY: help setup run demo test test-data test-fast test-all lint params dag exps sweep mechanism mechanism-vgg labels tune compare ui clean push pull results docs docs-serve

help:  ## list the targets with what each does
	@awk -F ':.*## ' '/^[a-z][a-z-]*:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip

setup: $(BIN)/python  ## create the virtualenv and install the project with its test tools
	$(BIN)/pip install $(TORCH_PAIR)
	$(BIN)/pip install -e ".[dev]" $(TORCH_PAIR)

run: setup  ## rebuild every result with DVC (DATA_SOURCE=<mirror> to use a mirror; STAGES=<stage> for fewer)
	@if [ -n "$(DATA_SOURCE)" ]; then $(BIN)/python -m filterscope.params $(OVERRIDES) data.source=$(DATA_SOURCE); \
	  elif [ -n "$(OVERRIDES)" ]; then $(BIN)/python -m filterscope.params $(OVERRIDES); fi
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/dvc repro $(STAGES)

push:  ## upload data, checkpoints and results to the default DVC remote (see docs/scaling.md)
	$(BIN)/dvc push

pull:  ## fetch them from the DVC remote (after `git pull`); `dvc repro` then has nothing to do
	$(BIN)/dvc pull

# The tests' datasets: $FILTERSCOPE_MIRROR, else ../shared/datasets, else what `make test-data`
# fetches from the official hosts into TEST_DATA.
TEST_DATA ?= .cache/test-data
MIRROR := $(or $(FILTERSCOPE_MIRROR),$(if $(wildcard ../shared/datasets/mnist),$(abspath ../shared/datasets)))
TEST_ENV := PATH="$(abspath $(BIN)):$$PATH" OMP_NUM_THREADS=1 \
  FILTERSCOPE_MIRROR="$(or $(MIRROR),$(abspath $(TEST_DATA)))"
DATA_STEP := $(if $(MIRROR),,test-data)

test-data: setup  ## the tests' datasets from the official hosts, md5-checked, into TEST_DATA (run by the test targets when no mirror is found)
	$(BIN)/python -m filterscope.data.testdata $(TEST_DATA)

test: $(DATA_STEP)  ## the test suite (what CI runs)
	$(TEST_ENV) $(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(DATA_STEP)  ## for iteration: the unit tests and one in-process tiny chain (tests marked fast), under 2 minutes
	$(TEST_ENV) $(BIN)/python -m pytest -m "(not integration and not slow) or fast" $(PARALLEL)

test-all: $(DATA_STEP)  ## every test, slow ones included
	$(TEST_ENV) $(BIN)/python -m pytest $(PARALLEL)

.PHONY: browser
browser:  ## Debian's chromium, for the HTML report's browser test (when /usr/bin/chromium is missing)
	if [ ! -x /usr/bin/chromium ]; then apt-get update && apt-get install -y chromium; fi

results:  ## render RESULTS.md's tables from the CSVs under docs/results/ (CHECK=1: only check it)
	$(BIN)/python -m filterscope.results $(if $(CHECK),--check)

docs:  ## build the documentation site into site/ (mkdocs --strict: a dead link fails)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

docs-serve:  ## serve the documentation site at http://127.0.0.1:8000, rebuilt on every edit
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

lint:  ## ruff over src, pipeline and tests
	$(BIN)/ruff check src pipeline tests

params:  ## regenerate params.yaml from conf/ (what `dvc exp run` does)
	$(BIN)/python -m filterscope.params $(OVERRIDES)

dag:  ## the pipeline's stages and their order (`dvc dag`)
	$(BIN)/dvc dag

exps:  ## `dvc exp show` with only the params and metrics that differ between experiments
	$(BIN)/dvc exp show --only-changed

# The tutorial study on MNIST: one factor at a time (learning rate, then dropout, then kernel
# size), each a Hydra multirun of training jobs and a sweep (an MLflow parent run).
STUDY := experiment=mnist_convnet $(OVERRIDES)
SWEEP_LAUNCHER ?= hydra/launcher=joblib hydra.launcher.n_jobs=2
SWEEP_LR ?= train.lr=0.1,0.01,0.001,0.0001,0.00001
SWEEP_DROPOUT ?= model.dropout=0.0,0.25,0.5,0.75
SWEEP_KERNEL ?= model.kernel_size=3,5,7,9
# Seeds per swept value: every value is trained once per seed (init, validation split, batch
# order and dropout all follow the seed), so `make compare` can give means and intervals.
SEEDS ?= 0,1,2
# Torch threads per job: two jobs on two cores, not four threads fighting over them.
SWEEP_THREADS ?= 1
# Run again, a sweep resumes: jobs that finished are skipped. FRESH=1 starts new sweeps.
# The studies' whole chains stop at the report (CHAIN_PRUNE=true adds the prune stage to each).
CHAIN_PRUNE ?= false
# $(call sweep_jobs,<script>,<config>,<seeds>)
sweep_jobs = OMP_NUM_THREADS=$(SWEEP_THREADS) $(BIN)/python pipeline/$(1).py -m $(2) \
  $(SWEEP_LAUNCHER) seed=$(3) $(if $(FRESH),hydra.callbacks.mlflow_sweep.resume=false) \
  $(if $(filter chain,$(1)),chain.prune=$(CHAIN_PRUNE))

sweep:  ## the MNIST study: three sweeps (lr, dropout, kernel size) x SEEDS=0,1,2, resumable (FRESH=1: new); OVERRIDES="data.source=..."
	$(BIN)/python pipeline/download.py $(STUDY) hydra.run.dir=. hydra.output_subdir=null
	$(call sweep_jobs,train,$(STUDY),$(SEEDS)) $(SWEEP_LR)
	$(call sweep_jobs,train,$(STUDY),$(SEEDS)) $(SWEEP_DROPOUT)
	$(call sweep_jobs,train,$(STUDY),$(SEEDS)) $(SWEEP_KERNEL)

# The same three sweeps, each job the whole chain (train, probe, extract, report): the
# mechanism's numbers of the one conv layer across the hyper-parameters (make compare LAST=3).
mechanism:  ## the MNIST study as whole chains: probe accuracy, clusters, noise, SNR per setting x SEEDS; resumable
	$(BIN)/python pipeline/download.py $(STUDY) hydra.run.dir=. hydra.output_subdir=null
	$(call sweep_jobs,chain,$(STUDY),$(SEEDS)) $(SWEEP_LR)
	$(call sweep_jobs,chain,$(STUDY),$(SEEDS)) $(SWEEP_DROPOUT)
	$(call sweep_jobs,chain,$(STUDY),$(SEEDS)) $(SWEEP_KERNEL)

# The mechanism across hyper-parameters on the default VGG-16 profile (all 13 layers), on
# Fashion-MNIST: a learning-rate and a dropout sweep of whole chains x VGG_SEEDS. VGG_SIZE keeps
# it near half an hour here (the first 6,000 training images); VGG_SIZE= trains on them all.
VGG_SIZE ?= data.train_limit=6000
VGG_STUDY := data=fashion_mnist $(VGG_SIZE) $(OVERRIDES)
VGG_SEEDS ?= 0,1,2
VGG_LR ?= train.lr=0.01,0.1,0.2
VGG_DROPOUT ?= model.dropout=0.0,0.5
mechanism-vgg:  ## the mechanism of VGG-16's 13 layers across lr and dropout (VGG_LR, VGG_DROPOUT x VGG_SEEDS); resumable
	$(BIN)/python pipeline/download.py $(VGG_STUDY) hydra.run.dir=. hydra.output_subdir=null
	$(call sweep_jobs,chain,$(VGG_STUDY),$(VGG_SEEDS)) $(VGG_LR)
	$(call sweep_jobs,chain,$(VGG_STUDY),$(VGG_SEEDS)) $(VGG_DROPOUT)

# The number-of-labels study ("Towards a universal mechanism"): whole chains on LABELS_PER_K
# random K-label subsets per K (drawn with seed 0; python -m filterscope.data.subsets), each
# job converting its own subset. LABELS_STUDY="data=cifar10_subset" for the default VGG profile.
LABELS_STUDY ?= experiment=mnist_convnet data=fashion_mnist
LABELS_K ?= 2,3,4,5,6,7,8,9,10
LABELS_PER_K ?= 3
LABELS_SEEDS ?= 0
labels:  ## the number-of-labels study: whole chains on random K-label subsets (LABELS_K, LABELS_PER_K); resumable
	$(BIN)/python pipeline/download.py $(LABELS_STUDY) $(OVERRIDES) hydra.run.dir=. hydra.output_subdir=null
	$(call sweep_jobs,chain,$(LABELS_STUDY) $(OVERRIDES),$(LABELS_SEEDS)) \
	  'paths.prepared=$${paths.root}/prepared' \
	  $$($(BIN)/python -m filterscope.data.subsets --k $(LABELS_K) --per-k $(LABELS_PER_K))

# An Optuna search over the same three parameters (Hydra's Optuna sweeper, TPE, seeded): each
# trial trains the tutorial network and returns its final validation accuracy.
TUNE_TRIALS ?= 12
TUNE_SPACE ?= 'train.lr=tag(log,interval(0.00001,0.1))' 'model.dropout=interval(0,0.75)' \
  'model.kernel_size=choice(3,5,7,9)'

tune:  ## the tutorial study as an Optuna search (TUNE_TRIALS, TUNE_SPACE); OVERRIDES="data.source=..."
	$(BIN)/python pipeline/download.py $(STUDY) hydra.run.dir=. hydra.output_subdir=null
	$(BIN)/python pipeline/train.py -m $(STUDY) hydra/sweeper=optuna \
	  hydra.sweeper.n_trials=$(TUNE_TRIALS) hydra.sweeper.direction=maximize \
	  hydra.sweeper.sampler.seed=0 objective=final_val_acc $(TUNE_SPACE)

compare:  ## tables and figures of the newest sweeps (LAST=3), logged to their parent runs; prints the UI address comparing each one's runs
	$(BIN)/python pipeline/compare.py compare.last=$(or $(LAST),3)

demo: setup  ## the whole pipeline on a small real subset, about a minute (DATA_SOURCE=<mirror>/fashion-mnist offline)
	$(BIN)/python pipeline/chain.py experiment=demo hydra.run.dir=demo/hydra \
	  $(if $(DATA_SOURCE),data.source=$(DATA_SOURCE)) $(OVERRIDES)
	$(BIN)/python -m filterscope.tracking.ui --store "sqlite:///$(CURDIR)/mlflow.db" \
	  --url http://127.0.0.1:$(UI_PORT) --experiment filterscope-demo

UI_PORT ?= 5000
ui:  ## the MLflow UI over the project's store; prints the address of the runs table
	$(BIN)/python -m filterscope.tracking.ui --store "sqlite:///$(CURDIR)/mlflow.db" \
	  --url http://127.0.0.1:$(UI_PORT)
	$(BIN)/mlflow ui --backend-store-uri "sqlite:///$(CURDIR)/mlflow.db" \
	  --default-artifact-root "$(CURDIR)/mlartifacts" --host 127.0.0.1 --port $(UI_PORT)

clean:  ## remove pipeline outputs (keeps downloads and the MLflow store)
	rm -rf data/prepared models results metrics plots

.PHONY: bench
bench:  ## run every benchmark (QUICK=1: small sizes, THREADS=n: torch threads); see BENCHMARKS.md
	@for name in train_throughput probe_pass extract memory model_epochs time_to_accuracy sweep_wall stage_exit config_refusal; do \
	  $(BIN)/python bench/$$name.py $(if $(QUICK),--quick) $(if $(THREADS),--threads $(THREADS)) \
	  || exit 1; done

# The GPU check travels to a GPU machine with what its Python lacks: the config libraries as
# wheels (.whl/) and the CIFAR-10 subset (.gpu/datasets/), both git-ignored.
GPU_WHEELS ?= hydra-core==1.3.8 omegaconf==2.3.1 antlr4-python3-runtime==4.9.3
.PHONY: gpu-carry gpu-check
gpu-carry:  ## prepare what bench/gpu_check.sh needs on a GPU machine (MIRROR=<datasets folder>)
	$(BIN)/pip wheel -q --no-deps -w .whl $(GPU_WHEELS)
	mkdir -p .gpu/datasets/cifar10-subset
	cp $(or $(MIRROR),../shared/datasets)/cifar10-subset/*.tar.gz .gpu/datasets/cifar10-subset/

gpu-check:  ## the GPU check, on a machine with a CUDA GPU (BENCHMARKS.md)
	bash bench/gpu_check.sh

