# PointPrompt Studio: `make run` starts the app on its embedded default (demo data, tiny SAM), `make test` runs the suite.
# Both create the virtual environment .venv on first use.

VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test bench clean-venv

$(STAMP): pyproject.toml packaging/constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c packaging/constraints.txt -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/pointprompt-studio --demo $(ARGS)

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

bench: $(STAMP)
	$(PY) bench/bench_sam_engine.py
	$(PY) bench/bench_annotation_app.py
	$(PY) bench/bench_large_image_click.py
	$(PY) bench/bench_held_click.py
	$(PY) bench/bench_cold_start.py
	$(PY) bench/bench_sam_maps.py
	$(PY) bench/bench_maps_latency.py
	$(PY) bench/bench_contrast_cam.py
	$(PY) bench/bench_per_sample_gradients.py
	$(PY) bench/bench_study_replay.py
	$(PY) bench/bench_training_step.py

clean-venv:
	rm -rf $(VENV)
